package amurg

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// fuzzSeeds are frames of document 003 (verbatim where the document's
// example is valid) and a few edge shapes.
var fuzzSeeds = []string{
	`{"type":"runtime.hello","ts":"2024-01-15T10:30:00Z","payload":{"runtime_id":"prod-runtime-01","token":"pre-shared-runtime-token","org_id":"default","endpoints":[{"id":"claude-code-prod","profile":"claude-code","name":"Claude Code (prod)","tags":{"env":"production"},"caps":{"native_session_ids":false,"turn_completion":true,"resume_attach":false,"exec_model":"interactive"},"security":{"permission_mode":"strict","allowed_tools":["Bash","Read","Write"]}}]}}`,
	`{"type":"hello.ack","ts":"2024-01-15T10:30:00Z","payload":{"ok":true}}`,
	`{"type":"session.create","session_id":"session-uuid","ts":"2024-01-15T10:30:01Z","payload":{"session_id":"session-uuid","endpoint_id":"claude-code-prod","user_id":"user-uuid"}}`,
	`{"type":"session.created","session_id":"session-uuid","ts":"2024-01-15T10:30:01Z","payload":{"session_id":"session-uuid","ok":true,"native_handle":""}}`,
	`{"type":"user.message","session_id":"session-uuid","ts":"2024-01-15T10:30:05Z","payload":{"session_id":"session-uuid","message_id":"msg-uuid","content":"List all files in the current directory"}}`,
	`{"type":"agent.output","session_id":"session-uuid","ts":"2024-01-15T10:30:06Z","payload":{"session_id":"session-uuid","message_id":"out-uuid","seq":1,"channel":"stdout","content":"file1.txt  file2.txt  src/","final":false}}`,
	`{"type":"turn.started","session_id":"session-uuid","ts":"2024-01-15T10:30:05Z","payload":{"session_id":"session-uuid","in_response_to":"msg-uuid"}}`,
	`{"type":"turn.completed","session_id":"session-uuid","ts":"2024-01-15T10:30:08Z","payload":{"session_id":"session-uuid","in_response_to":"msg-uuid","exit_code":0}}`,
	`{"type":"stop.request","session_id":"session-uuid","ts":"2024-01-15T10:30:10Z","payload":{"session_id":"session-uuid"}}`,
	`{"type":"stop.ack","session_id":"session-uuid","ts":"2024-01-15T10:30:10Z","payload":{"session_id":"session-uuid","ok":true}}`,
	`{"type":"session.close","session_id":"session-uuid","ts":"2024-01-15T10:35:00Z","payload":{"session_id":"session-uuid","reason":"user_requested"}}`,
	`{"type":"permission.request","session_id":"session-uuid","ts":"2024-01-15T10:31:02Z","payload":{"session_id":"session-uuid","request_id":"req-uuid","tool":"Bash","description":"Execute: rm -rf /tmp/build","resource":"/tmp/build"}}`,
	`{"type":"permission.response","session_id":"session-uuid","ts":"2024-01-15T10:31:05Z","payload":{"session_id":"session-uuid","request_id":"req-uuid","approved":true,"always_allow":false}}`,
	`{"type":"file.upload","session_id":"session-uuid","ts":"2024-01-15T10:32:00Z","payload":{"session_id":"session-uuid","metadata":{"file_id":"file-uuid","name":"input.csv","mime_type":"text/csv","size":1024},"data":"base64-encoded-content..."}}`,
	`{"type":"file.available","session_id":"session-uuid","ts":"2024-01-15T10:33:00Z","payload":{"session_id":"session-uuid","metadata":{"file_id":"file-uuid","name":"output.png","mime_type":"image/png","size":45678},"data":"base64-encoded-content..."}}`,
	`{"type":"file.available","session_id":"session-uuid","ts":"2024-01-15T10:33:00Z","payload":{"session_id":"session-uuid","metadata":{"file_id":"file-uuid","name":"output.png","mime_type":"image/png","size":45678},"data":"iVBORw0KGgo="}}`,
	`{ "type": "ping", "ts": "2024-01-15T10:30:00Z" }`,
	`{ "type": "pong", "ts": "2024-01-15T10:30:00Z" }`,
	`{"type":"client.subscribe","ts":"2024-01-15T10:30:00Z","payload":{"session_id":"session-uuid","after_seq":0}}`,
	`{"type":"client.unsubscribe","payload":{"session_id":"session-uuid"}}`,
	`{"type":"endpoint.config_ack","payload":{"endpoint_id":"claude-code-prod","ok":false,"error":"nope"}}`,
	`{"type":"error","session_id":"session-uuid","ts":"2024-01-15T10:30:05Z","payload":{"code":"turn_in_progress","message":"A turn is already in progress for this session"}}`,
	`{"type":"session.close","session_id":"s"}`,
	`{"type":"user.message","session_id":"a","payload":{"session_id":"b"}}`,
	`{"type":"ping","session_id":"a.b"}`,
	`{"type":"agent.tool_use","session_id":"s","payload":{"id":"toolu_1","name":"Glob","input":{"pattern":"*"}}}`,
	`{"type":"agent.tool_result","payload":{"session_id":"s","tool_use_id":"toolu_1","content":"a\nb","is_error":false}}`,
	`{"type":"turn.completed","payload":{"session_id":"s","in_response_to":"m","usage":{"num_turns":2,"cost_usd":0.004,"input_tokens":1200,"output_tokens":150},"is_error":false,"errors":[]}}`,
	`{"type":"agent.update_progress","payload":{"state":"downloading","percent":42}}`,
	`{"type":"user.message","payload":{"session_id":"s","message_id":"m2","content":"also","followup":true}}`,
	`{"type":5}`,
	`null`,
	`[]`,
	``,
}

// FuzzDecode: Decode never panics; it returns exactly one of an Envelope
// and an *Error; errors carry a documented code; an accepted envelope is
// publishable (protobuf), renderable for the other side of the hub and,
// rendered back for its own role, decodes to the same envelope.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	now := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, client bool) {
		role := RoleRuntime
		if client {
			role = RoleClient
		}
		env, derr := Decode(data, role, now)
		if (env == nil) == (derr == nil) {
			t.Fatalf("Decode returned env=%v err=%v: want exactly one", env, derr)
		}
		if derr != nil {
			if !slices.Contains(errcode.All, derr.Code) {
				t.Fatalf("error code %q is not in errcode.All", derr.Code)
			}
			if derr.Message == "" {
				t.Fatalf("error %s without a message", derr.Code)
			}
			return
		}
		if !inbound[role][env.GetType()] {
			t.Fatalf("accepted type %q on a %s socket", env.GetType(), role)
		}
		if env.GetTs() == "" {
			t.Fatal("accepted envelope without ts")
		}
		if s := env.GetSessionId(); s != "" && !bus.ValidToken(s) {
			t.Fatalf("accepted session id %q that is not a subject token", s)
		}
		if env.GetType() != TypePing && env.GetType() != TypePong && env.GetType() != TypeRuntimeHello &&
			env.GetType() != TypeEndpointConfigAck && env.GetType() != TypeUpdateProgress && !IsDeviceType(env.GetType()) && env.GetSessionId() == "" {
			t.Fatalf("accepted %s without a session", env.GetType())
		}
		wire, err := proto.Marshal(env)
		if err != nil {
			t.Fatalf("accepted envelope is not publishable: %v", err)
		}
		back := &syv1.Envelope{}
		if err := proto.Unmarshal(wire, back); err != nil || !proto.Equal(back, env) {
			t.Fatalf("protobuf round trip changed the envelope (%v)", err)
		}
		if env.GetType() == TypeRuntimeHello {
			return // answered by hello.ack; never rendered
		}
		other := RoleClient
		if role == RoleClient {
			other = RoleRuntime
		}
		out, err := Encode(env, other)
		if err != nil {
			t.Fatalf("Encode for %s: %v", other, err)
		}
		var generic map[string]any
		if err := json.Unmarshal(out, &generic); err != nil || generic["type"] != env.GetType() {
			t.Fatalf("Encode for %s produced %s (%v)", other, out, err)
		}
		// Rendered for its own role and decoded again: the same envelope.
		own, err := Encode(env, role)
		if err != nil {
			t.Fatalf("Encode for %s: %v", role, err)
		}
		again, derr := Decode(own, role, now.Add(time.Hour))
		if derr != nil {
			t.Fatalf("re-decoding %s: %v", own, derr)
		}
		if !proto.Equal(again, env) {
			t.Fatalf("decode∘encode changed the envelope\nfirst: %s\nagain: %s\nframe: %s", prototext.Format(env), prototext.Format(again), own)
		}
	})
}

// FuzzEncodeRoundTrip builds an envelope of every type a peer sends from
// arbitrary field values, renders it for the socket that sends that type
// and decodes the frame: the result must be the same envelope. Strings on
// the bus are valid UTF-8 (protobuf enforces it), so only those are used.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(uint8(0), "session-uuid", "msg-uuid", "List all files in the current directory", "stdout", int64(1), true, []byte("file1.txt"))
	f.Add(uint8(3), "s", "r", "Execute: rm -rf /tmp/build", "/tmp/build", int64(0), false, []byte{0x89, 'P', 'N', 'G'})
	f.Add(uint8(7), "S_1", "m\u2028<&>", "\"quoted\"\\", "\x00", int64(-1), true, []byte{})
	f.Add(uint8(11), "x", "", "", "", int64(1<<62), false, []byte(nil))
	f.Fuzz(func(t *testing.T, kind uint8, session, a, b, c string, n int64, flag bool, data []byte) {
		for _, s := range []string{session, a, b, c} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if !bus.ValidToken(session) {
			return
		}
		reqID := a // request ids become KV keys: subject tokens only
		if !bus.ValidToken(reqID) {
			reqID = "r"
		}
		id := a // frame ids and message_ids follow the identifier rule too
		if id != "" && !bus.ValidToken(id) {
			id = "i"
		}
		var role Role
		env := &syv1.Envelope{SessionId: session, Ts: c, Id: id}
		if env.Ts == "" {
			env.Ts = "2024-01-15T10:30:00Z"
		}
		switch kind % 14 {
		case 0:
			role, env.Type = RoleClient, TypeUserMessage
			env.Body = &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: session, MessageId: id, Content: b}}
		case 1:
			role, env.Type = RoleRuntime, TypeAgentOutput
			env.Body = &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: session, MessageId: a, Seq: n, Channel: c, Content: b, Final: flag}}
		case 2:
			role, env.Type = RoleRuntime, TypeTurnCompleted
			tc := &syv1.TurnCompleted{SessionId: session, InResponseTo: a}
			if flag {
				tc.ExitCode = &n
			}
			env.Body = &syv1.Envelope_TurnCompleted{TurnCompleted: tc}
		case 3:
			role, env.Type = RoleRuntime, TypePermissionRequest
			env.Body = &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: session, RequestId: reqID, Tool: b, Description: c, Resource: a}}
		case 4:
			role, env.Type = RoleClient, TypePermissionResponse
			env.Body = &syv1.Envelope_PermissionResponse{PermissionResponse: &syv1.PermissionResponse{SessionId: session, RequestId: reqID, Approved: flag, AlwaysAllow: n%2 == 0}}
		case 5:
			role, env.Type = RoleRuntime, TypeFileAvailable
			env.Body = &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: session, Data: nonEmpty(data),
				Metadata: &syv1.FileMetadata{FileId: a, Name: b, MimeType: c, Size: n}}}
		case 6:
			role, env.Type = RoleRuntime, TypeSessionCreated
			env.Body = &syv1.Envelope_SessionCreated{SessionCreated: &syv1.SessionCreated{SessionId: session, Ok: flag, NativeHandle: b, Error: c}}
		case 7:
			role, env.Type = RoleRuntime, TypeStopAck
			env.Body = &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{SessionId: session, Ok: flag, Error: b}}
		case 8:
			role, env.Type = RoleClient, TypeSessionClose
			env.Body = &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: session, Reason: b}}
		case 9:
			role, env.Type = RoleClient, TypeSubscribe
			env.Body = &syv1.Envelope_Subscribe{Subscribe: &syv1.Subscribe{SessionId: session, AfterSeq: max(n, 0)}}
		case 10:
			role, env.Type = RoleRuntime, TypeTurnStarted
			env.Body = &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: session, InResponseTo: b}}
		case 11:
			role, env.Type = RoleClient, TypeStopRequest
			env.Body = &syv1.Envelope_StopRequest{StopRequest: &syv1.StopRequest{SessionId: session}}
		case 12:
			role, env.Type = RoleRuntime, TypeEndpointConfigAck
			env.EndpointId = session
			env.Body = &syv1.Envelope_EndpointConfigAck{EndpointConfigAck: &syv1.EndpointConfigAck{EndpointId: session, Ok: flag, Error: b}}
		case 13:
			role, env.Type = RoleClient, TypeUnsubscribe
			env.Body = &syv1.Envelope_Unsubscribe{Unsubscribe: &syv1.Unsubscribe{SessionId: session}}
		}
		frame, err := Encode(env, role)
		if err != nil {
			t.Fatalf("Encode %s: %v", env.GetType(), err)
		}
		got, derr := Decode(frame, role, time.Now())
		if derr != nil {
			t.Fatalf("Decode(%s): %v", frame, derr)
		}
		if !proto.Equal(got, env) {
			t.Fatalf("round trip changed the envelope\n sent: %s\n  got: %s\nframe: %s", prototext.Format(env), prototext.Format(got), frame)
		}
	})
}

// nonEmpty maps an empty slice to nil: protobuf does not tell them apart
// and neither does the wire (data is omitted when empty).
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
