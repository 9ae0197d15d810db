package amurg_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var deviceNow = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

// The frames of the device extension as docs/protocol-notes.md shows them.
const (
	docDeviceRequest     = `{"type":"device.request","id":"dr-1","ts":"2024-01-15T10:30:00.000Z","payload":{"request_id":"req-7","op":"list_shortcuts","payload":{"userId":76561198012345678},"hub_id":"hub-abc123","hub_name":"CapyDeploy Hub"}}`
	docDeviceResponse    = `{"type":"device.response","ts":"2024-01-15T10:30:00.000Z","payload":{"request_id":"req-7","op":"list_shortcuts","type":"shortcuts_response","payload":{"shortcuts":[{"appId":2857492837,"name":"Celeste","exe":"/home/deck/Games/Celeste/Celeste.exe"}]}}}`
	docDeviceResponseErr = `{"type":"device.response","ts":"2024-01-15T10:30:00.000Z","payload":{"request_id":"req-8","op":"delete_game","error":{"code":501,"message":"delete_game is not implemented"}}}`
	docDevicePairingCode = `{"type":"device.pairing_code","ts":"2024-01-15T10:30:00.000Z","payload":{"code":"123456","expires_in":60,"hub_id":"hub-abc123","hub_name":"CapyDeploy Hub"}}`
	docDeviceUploadReady = `{"type":"device.upload_ready","ts":"2024-01-15T10:30:00.000Z","payload":{"request_id":"req-9","upload_id":"upload-abc123","game_name":"Celeste","files":[{"path":"data/game.pak","size":3,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","url":"/v1/uploads/upload-abc123/files/data/game.pak"}],"token":"dl-token","total_size":3,"executable":"Celeste.exe"}}`
	docDeviceEvent       = `{"type":"device.event","ts":"2024-01-15T10:30:00.000Z","payload":{"request_id":"req-9","upload_id":"upload-abc123","type":"operation_event","payload":{"type":"install","status":"progress","gameName":"Celeste","progress":50,"message":"data/game.pak"}}}`
	docDeviceCancel      = `{"type":"device.cancel","ts":"2024-01-15T10:30:00.000Z","payload":{"upload_id":"upload-abc123","reason":"cancel_upload"}}`
)

func TestDeviceFramesRoundTrip(t *testing.T) {
	ts := "2024-01-15T10:30:00.000Z"
	cases := []struct {
		name string
		doc  string
		env  *syv1.Envelope
		// from is the role that sends the frame (decoded on its socket).
		from amurg.Role
	}{
		{"request", docDeviceRequest, &syv1.Envelope{Type: amurg.TypeDeviceRequest, Id: "dr-1", Ts: ts, Body: &syv1.Envelope_DeviceRequest{DeviceRequest: &syv1.DeviceRequest{
			RequestId: "req-7", Op: "list_shortcuts", Payload: []byte(`{"userId":76561198012345678}`), HubId: "hub-abc123", HubName: "CapyDeploy Hub"}}}, ""},
		{"response", docDeviceResponse, &syv1.Envelope{Type: amurg.TypeDeviceResponse, Ts: ts, Body: &syv1.Envelope_DeviceResponse{DeviceResponse: &syv1.DeviceResponse{
			RequestId: "req-7", Op: "list_shortcuts", Type: "shortcuts_response", Payload: []byte(`{"shortcuts":[{"appId":2857492837,"name":"Celeste","exe":"/home/deck/Games/Celeste/Celeste.exe"}]}`)}}}, amurg.RoleRuntime},
		{"response error", docDeviceResponseErr, &syv1.Envelope{Type: amurg.TypeDeviceResponse, Ts: ts, Body: &syv1.Envelope_DeviceResponse{DeviceResponse: &syv1.DeviceResponse{
			RequestId: "req-8", Op: "delete_game", Error: &syv1.DeviceError{Code: 501, Message: "delete_game is not implemented"}}}}, amurg.RoleRuntime},
		{"pairing code", docDevicePairingCode, &syv1.Envelope{Type: amurg.TypeDevicePairingCode, Ts: ts, Body: &syv1.Envelope_DevicePairingCode{DevicePairingCode: &syv1.DevicePairingCode{
			Code: "123456", ExpiresIn: 60, HubId: "hub-abc123", HubName: "CapyDeploy Hub"}}}, ""},
		{"upload ready", docDeviceUploadReady, &syv1.Envelope{Type: amurg.TypeDeviceUploadReady, Ts: ts, Body: &syv1.Envelope_DeviceUploadReady{DeviceUploadReady: &syv1.DeviceUploadReady{
			RequestId: "req-9", UploadId: "upload-abc123", GameName: "Celeste", Token: "dl-token", TotalSize: 3, Executable: "Celeste.exe",
			Files: []*syv1.DeviceUploadFile{{Path: "data/game.pak", Size: 3, Sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Url: "/v1/uploads/upload-abc123/files/data/game.pak"}}}}}, ""},
		{"event", docDeviceEvent, &syv1.Envelope{Type: amurg.TypeDeviceEvent, Ts: ts, Body: &syv1.Envelope_DeviceEvent{DeviceEvent: &syv1.DeviceEvent{
			RequestId: "req-9", UploadId: "upload-abc123", Type: "operation_event", Payload: []byte(`{"type":"install","status":"progress","gameName":"Celeste","progress":50,"message":"data/game.pak"}`)}}}, amurg.RoleRuntime},
		{"cancel", docDeviceCancel, &syv1.Envelope{Type: amurg.TypeDeviceCancel, Ts: ts, Body: &syv1.Envelope_DeviceCancel{DeviceCancel: &syv1.DeviceCancel{
			UploadId: "upload-abc123", Reason: "cancel_upload"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := amurg.Encode(tc.env, amurg.RoleRuntime)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.doc {
				t.Fatalf("encoded\n got %s\nwant %s", out, tc.doc)
			}
			if tc.from != amurg.RoleRuntime {
				// Hub → device frames may not be sent by a device.
				if _, derr := amurg.Decode([]byte(tc.doc), amurg.RoleRuntime, deviceNow); derr == nil || derr.Code != errcode.UnsupportedType {
					t.Fatalf("hub-only frame from a device: %v", derr)
				}
				return
			}
			env, derr := amurg.Decode([]byte(tc.doc), amurg.RoleRuntime, deviceNow)
			if derr != nil {
				t.Fatal(derr)
			}
			if !proto.Equal(env, tc.env) {
				t.Fatalf("decoded\n got %s\nwant %s", prototext.Format(env), prototext.Format(tc.env))
			}
		})
	}
}

func TestDeviceFramesFromClientsRefused(t *testing.T) {
	for _, doc := range []string{docDeviceResponse, docDeviceEvent} {
		if _, err := amurg.Decode([]byte(doc), amurg.RoleClient, deviceNow); err == nil || err.Code != errcode.UnsupportedType {
			t.Errorf("device frame on a client socket: %v", err)
		}
	}
}

func TestDevicePayloadIsKeptExactly(t *testing.T) {
	// Whitespace is compacted, but the numbers stay as they were: a 64-bit
	// Steam id is not rounded through a double.
	in := `{"type":"device.response","payload":{"request_id":"r","payload":{ "users": [ {"id": 76561198012345679, "name": "<b>"} ] }}}`
	env, err := amurg.Decode([]byte(in), amurg.RoleRuntime, deviceNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(env.GetDeviceResponse().GetPayload()); got != `{"users":[{"id":76561198012345679,"name":"\u003cb\u003e"}]}` {
		t.Fatalf("payload = %s", got)
	}
}

func TestDeviceDecodeErrors(t *testing.T) {
	cases := map[string]string{
		"response without request_id":     `{"type":"device.response","payload":{"op":"get_info"}}`,
		"response request_id not a token": `{"type":"device.response","payload":{"request_id":"a b"}}`,
		"response payload not object":     `{"type":"device.response","payload":{"request_id":"r","payload":[1]}}`,
		"response payload broken":         `{"type":"device.response","payload":{"request_id":"r","payload":"x"}}`,
		"response error code 200":         `{"type":"device.response","payload":{"request_id":"r","error":{"code":200,"message":"ok"}}}`,
		"response without payload":        `{"type":"device.response"}`,
		"event without ids":               `{"type":"device.event","payload":{"type":"operation_event","payload":{}}}`,
		"event without type":              `{"type":"device.event","payload":{"upload_id":"u"}}`,
		"event bad upload id":             `{"type":"device.event","payload":{"upload_id":"u/1","type":"upload_progress"}}`,
		"event payload not object":        `{"type":"device.event","payload":{"upload_id":"u","type":"upload_progress","payload":5}}`,
	}
	for name, in := range cases {
		if env, err := amurg.Decode([]byte(in), amurg.RoleRuntime, deviceNow); err == nil || err.Code != errcode.InvalidMessage {
			t.Errorf("%s: env %v err %v, want invalid_message", name, env, err)
		}
	}
	// Accepted: a response with payload null, an event with only an upload id.
	for _, in := range []string{
		`{"type":"device.response","payload":{"request_id":"r","op":"restart_steam","payload":null}}`,
		`{"type":"device.event","payload":{"upload_id":"u","type":"upload_progress","payload":{"percentage":1}}}`,
	} {
		if _, err := amurg.Decode([]byte(in), amurg.RoleRuntime, deviceNow); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestDeviceOf(t *testing.T) {
	caps, err := structpb.NewStruct(map[string]any{"device": map[string]any{
		"name": "Steam Deck", "platform": "linux", "version": "0.1.0", "capabilities": []any{"file_upload", "steam_shortcuts"}, "acceptConnections": false,
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, ok, derr := amurg.DeviceOf(&syv1.Endpoint{Id: "deck", Profile: amurg.ProfileDevice, Name: "ep", Caps: caps})
	if derr != nil || !ok || d.Name != "Steam Deck" || d.Platform != "linux" || d.Version != "0.1.0" || d.AcceptConnections ||
		len(d.Capabilities) != 2 || d.Capabilities[1] != "steam_shortcuts" {
		t.Fatalf("DeviceOf = %+v %v %v", d, ok, derr)
	}
	// No caps.device: a device named after its endpoint that accepts.
	d, ok, derr = amurg.DeviceOf(&syv1.Endpoint{Id: "deck", Profile: "device", Name: "Deck"})
	if derr != nil || !ok || d.Name != "Deck" || !d.AcceptConnections {
		t.Fatalf("DeviceOf bare = %+v %v %v", d, ok, derr)
	}
	if _, ok, _ := amurg.DeviceOf(&syv1.Endpoint{Id: "shell", Profile: "shell"}); ok {
		t.Fatal("a shell endpoint is a device")
	}
	bad, _ := structpb.NewStruct(map[string]any{"device": "yes"})
	if _, ok, derr := amurg.DeviceOf(&syv1.Endpoint{Id: "d", Profile: "device", Caps: bad}); !ok || derr == nil {
		t.Fatalf("caps.device a string: ok %v err %v", ok, derr)
	}
}

// FuzzDecodeDevice: the device frames a device agent sends decode into
// envelopes that are publishable and re-render to the same envelope.
func FuzzDecodeDevice(f *testing.F) {
	for _, s := range []string{docDeviceResponse, docDeviceResponseErr, docDeviceEvent,
		`{"type":"device.response","payload":{"request_id":"r","payload":{"a":"<\u2028>"}}}`,
		`{"type":"device.event","payload":{"upload_id":"u","type":"upload_progress","payload":{ }}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, derr := amurg.Decode(data, amurg.RoleRuntime, deviceNow)
		if (env == nil) == (derr == nil) {
			t.Fatalf("env %v err %v", env, derr)
		}
		if derr != nil || !amurg.IsDeviceType(env.GetType()) {
			return
		}
		wire, err := proto.Marshal(env)
		if err != nil {
			t.Fatalf("not publishable: %v", err)
		}
		back := &syv1.Envelope{}
		if proto.Unmarshal(wire, back) != nil || !proto.Equal(back, env) {
			t.Fatal("protobuf round trip changed the envelope")
		}
		out, err := amurg.Encode(env, amurg.RoleRuntime)
		if err != nil {
			t.Fatal(err)
		}
		again, derr := amurg.Decode(out, amurg.RoleRuntime, deviceNow)
		if derr != nil || !proto.Equal(again, env) {
			t.Fatalf("decode∘encode changed the envelope (%v)\n%s\n%s", derr, prototext.Format(env), out)
		}
	})
}
