package amurg

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// The device extension of the runtime dialect (docs/protocol-notes.md,
// "Device extensions"): a device agent connects on /ws/runtime, declares
// itself with an endpoint of profile "device", and the hub relays the
// operations of the device dialect (document 001) to it with these frames.
const (
	TypeDeviceRequest     = "device.request"      // hub → device
	TypeDeviceResponse    = "device.response"     // device → hub
	TypeDevicePairingCode = "device.pairing_code" // hub → device
	TypeDeviceUploadReady = "device.upload_ready" // hub → device
	TypeDeviceEvent       = "device.event"        // device → hub
	TypeDeviceCancel      = "device.cancel"       // hub → device

	// ProfileDevice is the endpoint profile of a device agent.
	ProfileDevice = "device"
)

func init() {
	for _, t := range []string{TypeDeviceResponse, TypeDeviceEvent} {
		inbound[RoleRuntime][t] = true
		known[t] = true
	}
	for _, t := range []string{TypeDeviceRequest, TypeDevicePairingCode, TypeDeviceUploadReady, TypeDeviceCancel} {
		known[t] = true
	}
}

// IsDeviceType reports the types of the device extension.
func IsDeviceType(t string) bool {
	switch t {
	case TypeDeviceRequest, TypeDeviceResponse, TypeDevicePairingCode, TypeDeviceUploadReady, TypeDeviceEvent, TypeDeviceCancel:
		return true
	}
	return false
}

// DeviceCaps is what a device endpoint declares in caps.device of its
// runtime.hello endpoint.
type DeviceCaps struct {
	Name              string   `json:"name"`
	Platform          string   `json:"platform"`
	Version           string   `json:"version,omitempty"`
	Capabilities      []string `json:"capabilities"`
	AcceptConnections bool     `json:"acceptConnections"`
}

// DeviceOf reads the device declaration of an endpoint: ok is false when
// the endpoint is not a device (profile other than "device").
// acceptConnections defaults to true when the device leaves it out; a
// caps.device that is not an object of the right shape is an error.
func DeviceOf(ep *syv1.Endpoint) (*DeviceCaps, bool, error) {
	if ep.GetProfile() != ProfileDevice {
		return nil, false, nil
	}
	d := &DeviceCaps{Name: ep.GetName(), AcceptConnections: true}
	v, present := ep.GetCaps().GetFields()["device"]
	if !present {
		return d, true, nil
	}
	raw, err := v.MarshalJSON()
	if err != nil {
		return nil, true, fmt.Errorf("endpoint %s caps.device: %w", ep.GetId(), err)
	}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, true, fmt.Errorf("endpoint %s caps.device: %w", ep.GetId(), err)
	}
	if d.Name == "" {
		d.Name = ep.GetName()
	}
	return d, true, nil
}

// Wire payloads of the device frames.
type deviceErrorJSON struct {
	Code    int32  `json:"code"`
	Message string `json:"message"`
}

type deviceRequestJSON struct {
	RequestID string          `json:"request_id"`
	Op        string          `json:"op"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	HubID     string          `json:"hub_id,omitempty"`
	HubName   string          `json:"hub_name,omitempty"`
}

type deviceResponseJSON struct {
	RequestID string           `json:"request_id"`
	Op        string           `json:"op,omitempty"`
	Type      string           `json:"type,omitempty"`
	Payload   json.RawMessage  `json:"payload,omitempty"`
	Error     *deviceErrorJSON `json:"error,omitempty"`
}

type devicePairingCodeJSON struct {
	Code      string `json:"code"`
	ExpiresIn int32  `json:"expires_in"`
	HubID     string `json:"hub_id"`
	HubName   string `json:"hub_name,omitempty"`
}

type deviceUploadFileJSON struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

type deviceUploadReadyJSON struct {
	RequestID  string                 `json:"request_id"`
	UploadID   string                 `json:"upload_id"`
	GameName   string                 `json:"game_name"`
	Files      []deviceUploadFileJSON `json:"files"`
	Token      string                 `json:"token"`
	TotalSize  int64                  `json:"total_size"`
	Executable string                 `json:"executable,omitempty"`
}

type deviceEventJSON struct {
	RequestID string          `json:"request_id,omitempty"`
	UploadID  string          `json:"upload_id,omitempty"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

type deviceCancelJSON struct {
	RequestID string `json:"request_id,omitempty"`
	UploadID  string `json:"upload_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// decodeDevice decodes the device frames a runtime socket sends;
// handled is false for other types.
func decodeDevice(f *Frame, env *syv1.Envelope) (handled bool, err *Error) {
	switch f.Type {
	case TypeDeviceResponse:
		return true, decodeDeviceResponse(f, env)
	case TypeDeviceEvent:
		return true, decodeDeviceEvent(f, env)
	}
	return false, nil
}

func decodeDeviceResponse(f *Frame, env *syv1.Envelope) *Error {
	var p deviceResponseJSON
	if err := unmarshalPayload(f, &p); err != nil {
		return err
	}
	if !bus.ValidToken(p.RequestID) {
		return errorf(errcode.InvalidMessage, "device.response needs the request_id of its device.request")
	}
	raw, err := deviceJSON(p.Payload, "device.response payload")
	if err != nil {
		return err
	}
	r := &syv1.DeviceResponse{RequestId: p.RequestID, Op: p.Op, Type: p.Type, Payload: raw}
	if p.Error != nil {
		if p.Error.Code < 400 || p.Error.Code > 599 {
			return errorf(errcode.InvalidMessage, "device.response error.code %d is not an error code (400-599)", p.Error.Code)
		}
		r.Error = &syv1.DeviceError{Code: p.Error.Code, Message: p.Error.Message}
	}
	env.Body = &syv1.Envelope_DeviceResponse{DeviceResponse: r}
	return nil
}

func decodeDeviceEvent(f *Frame, env *syv1.Envelope) *Error {
	var p deviceEventJSON
	if err := unmarshalPayload(f, &p); err != nil {
		return err
	}
	if p.RequestID == "" && p.UploadID == "" {
		return errorf(errcode.InvalidMessage, "device.event needs a request_id or an upload_id")
	}
	for _, id := range []string{p.RequestID, p.UploadID} {
		if id != "" && !bus.ValidToken(id) {
			return errorf(errcode.InvalidMessage, "device.event ids must be 1-128 letters, digits, '-' or '_'")
		}
	}
	if p.Type == "" {
		return errorf(errcode.InvalidMessage, "device.event needs a type (upload_progress, operation_event, …)")
	}
	raw, err := deviceJSON(p.Payload, "device.event payload")
	if err != nil {
		return err
	}
	env.Body = &syv1.Envelope_DeviceEvent{DeviceEvent: &syv1.DeviceEvent{RequestId: p.RequestID, UploadId: p.UploadID, Type: p.Type, Payload: raw}}
	return nil
}

// deviceJSON checks that raw is a JSON object (or absent / null: nil) and
// returns it in the form encoding/json renders a RawMessage (compact, HTML
// characters escaped), so decode and encode agree byte for byte.
func deviceJSON(raw json.RawMessage, what string) ([]byte, *Error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, errorf(errcode.InvalidMessage, "%s must be a JSON object", what)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, t); err != nil {
		return nil, errorf(errcode.InvalidMessage, "%s: %v", what, err)
	}
	var h bytes.Buffer
	json.HTMLEscape(&h, c.Bytes())
	return h.Bytes(), nil
}

// rawOf is the payload bytes as JSON on the wire (nil: left out).
func rawOf(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// devicePayloadOf renders the device bodies; ok is false for others.
func devicePayloadOf(env *syv1.Envelope) (any, bool) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_DeviceRequest:
		m := b.DeviceRequest
		return deviceRequestJSON{RequestID: m.GetRequestId(), Op: m.GetOp(), Payload: rawOf(m.GetPayload()), SessionID: m.GetSessionId(), HubID: m.GetHubId(), HubName: m.GetHubName()}, true
	case *syv1.Envelope_DeviceResponse:
		m := b.DeviceResponse
		out := deviceResponseJSON{RequestID: m.GetRequestId(), Op: m.GetOp(), Type: m.GetType(), Payload: rawOf(m.GetPayload())}
		if e := m.GetError(); e != nil {
			out.Error = &deviceErrorJSON{Code: e.GetCode(), Message: e.GetMessage()}
		}
		return out, true
	case *syv1.Envelope_DevicePairingCode:
		m := b.DevicePairingCode
		return devicePairingCodeJSON{Code: m.GetCode(), ExpiresIn: m.GetExpiresIn(), HubID: m.GetHubId(), HubName: m.GetHubName()}, true
	case *syv1.Envelope_DeviceUploadReady:
		return uploadReadyOf(b.DeviceUploadReady), true
	case *syv1.Envelope_DeviceEvent:
		m := b.DeviceEvent
		return deviceEventJSON{RequestID: m.GetRequestId(), UploadID: m.GetUploadId(), Type: m.GetType(), Payload: rawOf(m.GetPayload())}, true
	case *syv1.Envelope_DeviceCancel:
		m := b.DeviceCancel
		return deviceCancelJSON{RequestID: m.GetRequestId(), UploadID: m.GetUploadId(), Reason: m.GetReason()}, true
	}
	return nil, false
}

func uploadReadyOf(m *syv1.DeviceUploadReady) deviceUploadReadyJSON {
	out := deviceUploadReadyJSON{RequestID: m.GetRequestId(), UploadID: m.GetUploadId(), GameName: m.GetGameName(),
		Token: m.GetToken(), TotalSize: m.GetTotalSize(), Executable: m.GetExecutable(), Files: []deviceUploadFileJSON{}}
	for _, f := range m.GetFiles() {
		out.Files = append(out.Files, deviceUploadFileJSON{Path: f.GetPath(), Size: f.GetSize(), SHA256: f.GetSha256(), URL: f.GetUrl()})
	}
	return out
}
