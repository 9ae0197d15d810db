package amurg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/jsondepth"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Role is the side a socket speaks for: the hub's roles (pkg/kind). The
// dialect has two: /ws/runtime and /ws/client.
type Role = kind.Role

// The roles of the dialect's sockets.
const (
	RoleRuntime = kind.RoleRuntime // /ws/runtime
	RoleClient  = kind.RoleClient  // /ws/client
)

// Type strings of the dialect on the wire. They equal the hub's kinds of
// the same name (pkg/kind), because this dialect came first; services use
// pkg/kind, only this codec and its socket handlers name wire types.
const (
	TypeRuntimeHello         = kind.RuntimeHello
	TypeHelloAck             = kind.HelloAck
	TypeSessionCreate        = kind.SessionCreate
	TypeSessionCreated       = kind.SessionCreated
	TypeSessionClose         = kind.SessionClose
	TypeSessionClosed        = kind.SessionClosed
	TypeUserMessage          = kind.UserMessage
	TypeAgentOutput          = kind.AgentOutput
	TypeTurnStarted          = kind.TurnStarted
	TypeTurnCompleted        = kind.TurnCompleted
	TypeStopRequest          = kind.StopRequest
	TypeStopAck              = kind.StopAck
	TypePermissionRequest    = kind.PermissionRequest
	TypePermissionResponse   = kind.PermissionResponse
	TypeFileUpload           = kind.FileUpload
	TypeFileAvailable        = kind.FileAvailable
	TypeEndpointConfigUpdate = kind.EndpointConfigUpdate
	TypeEndpointConfigAck    = kind.EndpointConfigAck
	TypeTokenRefresh         = kind.TokenRefresh
	TypePing                 = kind.Ping
	TypePong                 = kind.Pong
	TypeSubscribe            = kind.Subscribe
	TypeUnsubscribe          = kind.Unsubscribe
	TypeHistoryResponse      = kind.HistoryResponse
	TypeError                = kind.Error
	// TypeRuntimeStatus is Switchyard's hub→client transcript frame telling
	// subscribers that the session's runtime went offline or came back.
	TypeRuntimeStatus = kind.RuntimeStatus
)

// inbound lists, per role, the types a socket may send to the hub.
var inbound = map[Role]map[string]bool{
	RoleRuntime: {
		TypeRuntimeHello: true, TypeSessionCreated: true, TypeSessionClose: true,
		TypeAgentOutput: true, TypeTurnStarted: true, TypeTurnCompleted: true,
		TypeStopAck: true, TypePermissionRequest: true, TypeFileAvailable: true,
		TypeEndpointConfigAck: true, TypePing: true, TypePong: true,
	},
	RoleClient: {
		TypeSubscribe: true, TypeUnsubscribe: true, TypeUserMessage: true,
		TypePermissionResponse: true, TypeStopRequest: true, TypeSessionClose: true,
		TypePing: true, TypePong: true,
	},
}

// known is every type string of the dialect, in either direction.
var known = map[string]bool{
	TypeHelloAck: true, TypeSessionCreate: true, TypeSessionClosed: true,
	TypeFileUpload: true, TypeEndpointConfigUpdate: true, TypeTokenRefresh: true,
	TypeHistoryResponse: true, TypeError: true, TypePermissionResponse: true, TypeRuntimeStatus: true,
	TypeUserMessage: true, TypeStopRequest: true,
}

func init() {
	for _, m := range inbound {
		for t := range m {
			known[t] = true
		}
	}
}

// Error is a decode failure with the code the hub answers with.
type Error struct {
	Code    string
	Message string
	// Type and SessionID of the offending frame, when they could be read.
	Type      string
	SessionID string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Decode parses one text frame sent by a socket of the given role into an
// Envelope. The hub stamps ts when the frame has none; the gateway assigns
// ids (see its assignID).
func Decode(data []byte, role Role, now time.Time) (*syv1.Envelope, *Error) {
	if role == RoleRuntime {
		if env, ok := decodeOutput(data, now); ok {
			return env, nil
		}
	}
	return decodeFull(data, role, now)
}

// decodeFull is Decode without the fast path: every frame of every type.
func decodeFull(data []byte, role Role, now time.Time) (*syv1.Envelope, *Error) {
	var f Frame
	if !isObject(data) {
		return nil, errorf(errcode.InvalidJSON, "frame is not a JSON object")
	}
	if jsondepth.Exceeds(data, MaxDepth) {
		return nil, errorf(errcode.InvalidMessage, "the frame nests objects and arrays deeper than %d", MaxDepth)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errorf(errcode.InvalidMessage, "field %s has the wrong type: %v", typeErr.Field, err)
		}
		return nil, errorf(errcode.InvalidJSON, "frame is not a JSON object")
	}
	if f.Type == "" {
		return nil, errorf(errcode.InvalidMessage, "frame has no type")
	}
	if !inbound[role][f.Type] {
		code := errcode.UnsupportedType
		if !known[f.Type] {
			code = errcode.UnknownType
		}
		e := errorf(code, "type %q cannot be sent on a %s socket", f.Type, role)
		e.Type, e.SessionID = f.Type, f.SessionID
		return nil, e
	}
	if f.ID != "" && !bus.ValidToken(f.ID) {
		return nil, &Error{Code: errcode.InvalidMessage, Message: "id may hold only letters, digits, '-' and '_' (at most 128)", Type: f.Type, SessionID: f.SessionID}
	}
	env := &syv1.Envelope{Id: f.ID, Type: f.Type, SessionId: f.SessionID, Ts: f.Ts}
	if env.Ts == "" {
		env.Ts = clock.Stamp(now)
	}
	if err := decodeBody(&f, env); err != nil {
		err.Type, err.SessionID = f.Type, env.SessionId
		return nil, err
	}
	if env.SessionId != "" && !bus.ValidToken(env.SessionId) {
		return nil, &Error{Code: errcode.InvalidMessage, Message: "session_id may hold only letters, digits, '-' and '_' (at most 128)", Type: f.Type}
	}
	fillBodySession(env)
	return env, nil
}

// MaxDepth bounds how deeply a frame may nest objects and arrays (a
// runtime.hello's caps become protobuf Structs, two levels a level).
const MaxDepth = 64

// validMessageID applies the identifier rule to a user.message's
// message_id, the idempotency key that becomes a NATS dedupe header; empty
// is allowed (the hub assigns one). agent.output's message_id is the
// runtime's own label, carried as data, and is not checked.
func validMessageID(id string) *Error {
	if id != "" && !bus.ValidToken(id) {
		return errorf(errcode.InvalidMessage, "message_id must be 1-128 letters, digits, '-' or '_'")
	}
	return nil
}

// isObject reports whether data is a JSON object (not null, a list, …).
func isObject(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// fillBodySession copies the envelope's session_id into the body's
// session_id when the sender put it only at the top level, so frames the
// hub relays carry it where the document shows it.
func fillBodySession(env *syv1.Envelope) {
	if env.SessionId == "" {
		return
	}
	m := env.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil || fd.Message() == nil {
		return
	}
	body := m.Get(fd).Message()
	if sf := body.Descriptor().Fields().ByName("session_id"); sf != nil && body.Get(sf).String() == "" {
		body.Set(sf, protoreflect.ValueOfString(env.SessionId))
	}
}

func unmarshalPayload(f *Frame, v any) *Error {
	if len(f.Payload) == 0 || bytes.Equal(f.Payload, []byte("null")) {
		return errorf(errcode.InvalidMessage, "%s needs a payload", f.Type)
	}
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return errorf(errcode.InvalidMessage, "%s payload: %v", f.Type, err)
	}
	return nil
}

// sessionOf reconciles the envelope's session_id with the payload's.
func sessionOf(env *syv1.Envelope, payload string, required bool) *Error {
	switch {
	case payload != "" && env.SessionId != "" && payload != env.SessionId:
		return errorf(errcode.InvalidMessage, "session_id %q in the envelope differs from %q in the payload", env.SessionId, payload)
	case payload != "":
		env.SessionId = payload
	}
	if required && env.SessionId == "" {
		return errorf(errcode.InvalidMessage, "%s needs a session_id", env.Type)
	}
	return nil
}

func decodeBody(f *Frame, env *syv1.Envelope) *Error {
	switch f.Type {
	case TypePing, TypePong:
		return nil
	case TypeRuntimeHello:
		return decodeHello(f, env)
	case TypeSessionCreated:
		var p sessionCreatedJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_SessionCreated{SessionCreated: &syv1.SessionCreated{SessionId: p.SessionID, Ok: p.OK, NativeHandle: p.NativeHandle, Error: p.Error}}
		return sessionOf(env, p.SessionID, true)
	case TypeSessionClose:
		p := sessionCloseJSON{}
		if len(f.Payload) > 0 {
			if err := unmarshalPayload(f, &p); err != nil {
				return err
			}
		}
		env.Body = &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: p.SessionID, Reason: p.Reason}}
		return sessionOf(env, p.SessionID, true)
	case TypeUserMessage:
		var p userMessageJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if err := validMessageID(p.MessageID); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: p.SessionID, MessageId: p.MessageID, Content: p.Content, Followup: p.Followup}}
		return sessionOf(env, p.SessionID, true)
	case TypeAgentOutput:
		var p agentOutputJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: p.SessionID, MessageId: p.MessageID, Seq: p.Seq, Channel: p.Channel, Content: p.Content, Final: p.Final}}
		return sessionOf(env, p.SessionID, true)
	case TypeTurnStarted:
		var p turnStartedJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: p.SessionID, InResponseTo: p.InResponseTo}}
		return sessionOf(env, p.SessionID, true)
	case TypeTurnCompleted:
		var p turnCompletedJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		tc := &syv1.TurnCompleted{SessionId: p.SessionID, InResponseTo: p.InResponseTo, ExitCode: p.ExitCode}
		if err := outcomeOf(p.TurnOutcomeFields, tc); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_TurnCompleted{TurnCompleted: tc}
		return sessionOf(env, p.SessionID, true)
	case TypeStopRequest:
		p := sessionOnlyJSON{}
		if len(f.Payload) > 0 {
			if err := unmarshalPayload(f, &p); err != nil {
				return err
			}
		}
		env.Body = &syv1.Envelope_StopRequest{StopRequest: &syv1.StopRequest{SessionId: p.SessionID}}
		return sessionOf(env, p.SessionID, true)
	case TypeStopAck:
		var p stopAckJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{SessionId: p.SessionID, Ok: p.OK, Error: p.Error}}
		return sessionOf(env, p.SessionID, true)
	}
	return decodeBody2(f, env)
}

func decodeBody2(f *Frame, env *syv1.Envelope) *Error {
	switch f.Type {
	case TypePermissionRequest:
		var p permissionRequestJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if !bus.ValidToken(p.RequestID) {
			return errorf(errcode.InvalidMessage, "permission.request needs a request_id of 1-128 letters, digits, '-' or '_'")
		}
		env.Body = &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: p.SessionID, RequestId: p.RequestID, Tool: p.Tool, Description: p.Description, Resource: p.Resource}}
		return sessionOf(env, p.SessionID, true)
	case TypePermissionResponse:
		var p permissionResponseJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if !bus.ValidToken(p.RequestID) {
			return errorf(errcode.InvalidMessage, "permission.response needs a request_id of 1-128 letters, digits, '-' or '_'")
		}
		env.Body = &syv1.Envelope_PermissionResponse{PermissionResponse: &syv1.PermissionResponse{SessionId: p.SessionID, RequestId: p.RequestID, Approved: p.Approved, AlwaysAllow: p.AlwaysAllow}}
		return sessionOf(env, p.SessionID, true)
	case TypeFileAvailable:
		var p fileJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		m := p.Metadata
		env.Body = &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: p.SessionID, Data: p.Data, Metadata: &syv1.FileMetadata{FileId: m.FileID, Name: m.Name, MimeType: m.MimeType, Size: m.Size}}}
		return sessionOf(env, p.SessionID, true)
	case TypeEndpointConfigAck:
		var p endpointConfigAckJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.EndpointId = p.EndpointID
		env.Body = &syv1.Envelope_EndpointConfigAck{EndpointConfigAck: &syv1.EndpointConfigAck{EndpointId: p.EndpointID, Ok: p.OK, Error: p.Error}}
		return nil
	case TypeSubscribe:
		var p subscribeJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if p.AfterSeq < 0 {
			return errorf(errcode.InvalidMessage, "after_seq must not be negative")
		}
		env.Body = &syv1.Envelope_Subscribe{Subscribe: &syv1.Subscribe{SessionId: p.SessionID, AfterSeq: p.AfterSeq}}
		return sessionOf(env, p.SessionID, true)
	case TypeUnsubscribe:
		var p sessionOnlyJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_Unsubscribe{Unsubscribe: &syv1.Unsubscribe{SessionId: p.SessionID}}
		return sessionOf(env, p.SessionID, true)
	}
	if handled, err := decodeAgents(f, env); handled {
		return err
	}
	if handled, err := decodeDevice(f, env); handled {
		return err
	}
	return decodeChat(f, env)
}

func decodeHello(f *Frame, env *syv1.Envelope) *Error {
	var p runtimeHelloJSON
	if err := unmarshalPayload(f, &p); err != nil {
		return err
	}
	if !bus.ValidToken(p.RuntimeID) {
		return errorf(errcode.InvalidMessage, "runtime_id must be 1-128 letters, digits, '-' or '_'")
	}
	h := &syv1.RuntimeHello{RuntimeId: p.RuntimeID, Token: p.Token, OrgId: p.OrgID, Revision: helloRevision(&p)}
	for i, e := range append(p.Endpoints, p.Agents...) {
		if !bus.ValidToken(e.ID) {
			return errorf(errcode.InvalidMessage, "%s must be 1-128 letters, digits, '-' or '_'", helloListItem(&p, i))
		}
		ep := &syv1.Endpoint{Id: e.ID, Profile: e.Profile, Name: e.Name, Tags: e.Tags}
		var err *Error
		if ep.Caps, err = toStruct(e.Caps, "caps"); err != nil {
			return err
		}
		if ep.Security, err = toStruct(e.Security, "security"); err != nil {
			return err
		}
		h.Endpoints = append(h.Endpoints, ep)
	}
	env.RuntimeId = p.RuntimeID
	env.Body = &syv1.Envelope_RuntimeHello{RuntimeHello: h}
	return nil
}

func toStruct(raw json.RawMessage, field string) (*structpb.Struct, *Error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errorf(errcode.InvalidMessage, "%s must be a JSON object: %v", field, err)
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, errorf(errcode.InvalidMessage, "%s: %v", field, err)
	}
	return s, nil
}
