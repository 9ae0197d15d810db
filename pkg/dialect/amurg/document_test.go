package amurg_test

// Golden tests against the JSON examples of document 003
// (shared/seeds/003_849aabbeac3499c2.txt). The example frames below are
// copied verbatim from the document; where the document uses a placeholder
// that cannot be valid on the wire ("base64-encoded-content..."), the test
// says so and substitutes real data.

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Document 003 examples, verbatim.
const (
	docRuntimeHello = `{
  "type": "runtime.hello",
  "ts": "2024-01-15T10:30:00Z",
  "payload": {
    "runtime_id": "prod-runtime-01",
    "token": "pre-shared-runtime-token",
    "org_id": "default",
    "endpoints": [
      {
        "id": "claude-code-prod",
        "profile": "claude-code",
        "name": "Claude Code (prod)",
        "tags": { "env": "production" },
        "caps": {
          "native_session_ids": false,
          "turn_completion": true,
          "resume_attach": false,
          "exec_model": "interactive"
        },
        "security": {
          "permission_mode": "strict",
          "allowed_tools": ["Bash", "Read", "Write"]
        }
      }
    ]
  }
}`
	docHelloAck = `{
  "type": "hello.ack",
  "ts": "2024-01-15T10:30:00Z",
  "payload": { "ok": true }
}`
	docSessionCreate = `{
  "type": "session.create",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:01Z",
  "payload": {
    "session_id": "session-uuid",
    "endpoint_id": "claude-code-prod",
    "user_id": "user-uuid"
  }
}`
	docSessionCreated = `{
  "type": "session.created",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:01Z",
  "payload": {
    "session_id": "session-uuid",
    "ok": true,
    "native_handle": ""
  }
}`
	docUserMessage = `{
  "type": "user.message",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:05Z",
  "payload": {
    "session_id": "session-uuid",
    "message_id": "msg-uuid",
    "content": "List all files in the current directory"
  }
}`
	docAgentOutput = `{
  "type": "agent.output",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:06Z",
  "payload": {
    "session_id": "session-uuid",
    "message_id": "out-uuid",
    "seq": 1,
    "channel": "stdout",
    "content": "file1.txt  file2.txt  src/",
    "final": false
  }
}`
	docTurnStarted = `{
  "type": "turn.started",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:05Z",
  "payload": {
    "session_id": "session-uuid",
    "in_response_to": "msg-uuid"
  }
}`
	docTurnCompleted = `{
  "type": "turn.completed",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:08Z",
  "payload": {
    "session_id": "session-uuid",
    "in_response_to": "msg-uuid",
    "exit_code": 0
  }
}`
	docStopRequest = `{
  "type": "stop.request",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:10Z",
  "payload": { "session_id": "session-uuid" }
}`
	docStopAck = `{
  "type": "stop.ack",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:10Z",
  "payload": { "session_id": "session-uuid", "ok": true }
}`
	docSessionClose = `{
  "type": "session.close",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:35:00Z",
  "payload": {
    "session_id": "session-uuid",
    "reason": "user_requested"
  }
}`
	docPermissionRequest = `{
  "type": "permission.request",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:31:02Z",
  "payload": {
    "session_id": "session-uuid",
    "request_id": "req-uuid",
    "tool": "Bash",
    "description": "Execute: rm -rf /tmp/build",
    "resource": "/tmp/build"
  }
}`
	docPermissionResponse = `{
  "type": "permission.response",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:31:05Z",
  "payload": {
    "session_id": "session-uuid",
    "request_id": "req-uuid",
    "approved": true,
    "always_allow": false
  }
}`
	docFileUpload = `{
  "type": "file.upload",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:32:00Z",
  "payload": {
    "session_id": "session-uuid",
    "metadata": {
      "file_id": "file-uuid",
      "name": "input.csv",
      "mime_type": "text/csv",
      "size": 1024
    },
    "data": "base64-encoded-content..."
  }
}`
	docFileAvailable = `{
  "type": "file.available",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:33:00Z",
  "payload": {
    "session_id": "session-uuid",
    "metadata": {
      "file_id": "file-uuid",
      "name": "output.png",
      "mime_type": "image/png",
      "size": 45678
    },
    "data": "base64-encoded-content..."
  }
}`
	docPing            = `{ "type": "ping", "ts": "2024-01-15T10:30:00Z" }`
	docPong            = `{ "type": "pong", "ts": "2024-01-15T10:30:00Z" }`
	docClientSubscribe = `{
  "type": "client.subscribe",
  "ts": "2024-01-15T10:30:00Z",
  "payload": {
    "session_id": "session-uuid",
    "after_seq": 0
  }
}`
	docError = `{
  "type": "error",
  "session_id": "session-uuid",
  "ts": "2024-01-15T10:30:05Z",
  "payload": {
    "code": "turn_in_progress",
    "message": "A turn is already in progress for this session"
  }
}`
)

// docPlaceholderData is the document's stand-in for file bytes; it is not
// base64, so frames carrying it verbatim are rejected (see the error tests).
const docPlaceholderData = `"base64-encoded-content..."`

// pngBytes stand in for the document's placeholder: binary, not UTF-8.
var pngBytes = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff, 0xfe}

// withData replaces the document's data placeholder by real base64.
func withData(doc string, data []byte) string {
	return strings.Replace(doc, docPlaceholderData, `"`+base64.StdEncoding.EncodeToString(data)+`"`, 1)
}

var fixedNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func i64(v int64) *int64 { return &v }

func sameEnvelope(t *testing.T, got, want *syv1.Envelope) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("envelope mismatch\n got: %s\nwant: %s", prototext.Format(got), prototext.Format(want))
	}
}

// TestDecodeDocumentExamples decodes every peer→hub example of the document
// on the socket role that may send it and checks the whole Envelope; on the
// other role, each is refused as unsupported_type (never unknown_type: the
// type is part of the dialect).
func TestDecodeDocumentExamples(t *testing.T) {
	const sid = "session-uuid"
	cases := []struct {
		name  string
		frame string
		roles []amurg.Role // roles that may send it; the others must refuse it
		want  *syv1.Envelope
	}{
		{"runtime.hello", docRuntimeHello, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "runtime.hello", Ts: "2024-01-15T10:30:00Z", RuntimeId: "prod-runtime-01",
			Body: &syv1.Envelope_RuntimeHello{RuntimeHello: &syv1.RuntimeHello{
				RuntimeId: "prod-runtime-01", Token: "pre-shared-runtime-token", OrgId: "default",
				Endpoints: []*syv1.Endpoint{{
					Id: "claude-code-prod", Profile: "claude-code", Name: "Claude Code (prod)",
					Tags: map[string]string{"env": "production"},
					Caps: mustStruct(t, map[string]any{
						"native_session_ids": false, "turn_completion": true, "resume_attach": false, "exec_model": "interactive",
					}),
					Security: mustStruct(t, map[string]any{
						"permission_mode": "strict", "allowed_tools": []any{"Bash", "Read", "Write"},
					}),
				}},
			}},
		}},
		{"session.created", docSessionCreated, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "session.created", SessionId: sid, Ts: "2024-01-15T10:30:01Z",
			Body: &syv1.Envelope_SessionCreated{SessionCreated: &syv1.SessionCreated{SessionId: sid, Ok: true, NativeHandle: ""}},
		}},
		{"agent.output", docAgentOutput, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "agent.output", SessionId: sid, Ts: "2024-01-15T10:30:06Z",
			Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{
				SessionId: sid, MessageId: "out-uuid", Seq: 1, Channel: "stdout", Content: "file1.txt  file2.txt  src/", Final: false,
			}},
		}},
		{"turn.started", docTurnStarted, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "turn.started", SessionId: sid, Ts: "2024-01-15T10:30:05Z",
			Body: &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: sid, InResponseTo: "msg-uuid"}},
		}},
		{"turn.completed", docTurnCompleted, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "turn.completed", SessionId: sid, Ts: "2024-01-15T10:30:08Z",
			Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: sid, InResponseTo: "msg-uuid", ExitCode: i64(0)}},
		}},
		{"stop.ack", docStopAck, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "stop.ack", SessionId: sid, Ts: "2024-01-15T10:30:10Z",
			Body: &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{SessionId: sid, Ok: true}},
		}},
		{"permission.request", docPermissionRequest, []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "permission.request", SessionId: sid, Ts: "2024-01-15T10:31:02Z",
			Body: &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{
				SessionId: sid, RequestId: "req-uuid", Tool: "Bash", Description: "Execute: rm -rf /tmp/build", Resource: "/tmp/build",
			}},
		}},
		{"file.available", withData(docFileAvailable, pngBytes), []amurg.Role{amurg.RoleRuntime}, &syv1.Envelope{
			Type: "file.available", SessionId: sid, Ts: "2024-01-15T10:33:00Z",
			Body: &syv1.Envelope_File{File: &syv1.FileTransfer{
				SessionId: sid, Data: pngBytes,
				Metadata: &syv1.FileMetadata{FileId: "file-uuid", Name: "output.png", MimeType: "image/png", Size: 45678},
			}},
		}},
		{"session.close", docSessionClose, []amurg.Role{amurg.RoleRuntime, amurg.RoleClient}, &syv1.Envelope{
			Type: "session.close", SessionId: sid, Ts: "2024-01-15T10:35:00Z",
			Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: sid, Reason: "user_requested"}},
		}},
		{"ping", docPing, []amurg.Role{amurg.RoleRuntime, amurg.RoleClient}, &syv1.Envelope{Type: "ping", Ts: "2024-01-15T10:30:00Z"}},
		{"pong", docPong, []amurg.Role{amurg.RoleRuntime, amurg.RoleClient}, &syv1.Envelope{Type: "pong", Ts: "2024-01-15T10:30:00Z"}},
		{"user.message", docUserMessage, []amurg.Role{amurg.RoleClient}, &syv1.Envelope{
			Type: "user.message", SessionId: sid, Ts: "2024-01-15T10:30:05Z",
			Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: "msg-uuid", Content: "List all files in the current directory"}},
		}},
		{"client.subscribe", docClientSubscribe, []amurg.Role{amurg.RoleClient}, &syv1.Envelope{
			// session_id only in the payload: the envelope takes it from there.
			Type: "client.subscribe", SessionId: sid, Ts: "2024-01-15T10:30:00Z",
			Body: &syv1.Envelope_Subscribe{Subscribe: &syv1.Subscribe{SessionId: sid, AfterSeq: 0}},
		}},
		{"permission.response", docPermissionResponse, []amurg.Role{amurg.RoleClient}, &syv1.Envelope{
			Type: "permission.response", SessionId: sid, Ts: "2024-01-15T10:31:05Z",
			Body: &syv1.Envelope_PermissionResponse{PermissionResponse: &syv1.PermissionResponse{SessionId: sid, RequestId: "req-uuid", Approved: true, AlwaysAllow: false}},
		}},
		{"stop.request", docStopRequest, []amurg.Role{amurg.RoleClient}, &syv1.Envelope{
			Type: "stop.request", SessionId: sid, Ts: "2024-01-15T10:30:10Z",
			Body: &syv1.Envelope_StopRequest{StopRequest: &syv1.StopRequest{SessionId: sid}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, role := range []amurg.Role{amurg.RoleRuntime, amurg.RoleClient} {
				env, derr := amurg.Decode([]byte(tc.frame), role, fixedNow)
				if !hasRole(tc.roles, role) {
					if derr == nil || derr.Code != errcode.UnsupportedType || derr.Type != tc.want.Type {
						t.Errorf("%s socket: Decode = %v, %+v; want unsupported_type naming %q", role, env, derr, tc.want.Type)
					}
					continue
				}
				if derr != nil {
					t.Fatalf("%s socket: Decode: %v", role, derr)
				}
				sameEnvelope(t, env, tc.want)
				// Everything a socket sends is published on the bus as protobuf.
				if _, err := proto.Marshal(env); err != nil {
					t.Errorf("%s socket: envelope not marshalable: %v", role, err)
				}
			}
		})
	}
}

func hasRole(roles []amurg.Role, r amurg.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// The hello example's caps/security objects are relayed exactly: decoding
// them into Structs and rendering them back gives the same JSON.
func TestDecodeHelloKeepsCapsAndSecurity(t *testing.T) {
	env, derr := amurg.Decode([]byte(docRuntimeHello), amurg.RoleRuntime, fixedNow)
	if derr != nil {
		t.Fatal(derr)
	}
	var doc struct {
		Payload struct {
			Endpoints []struct {
				Caps     map[string]any `json:"caps"`
				Security map[string]any `json:"security"`
			} `json:"endpoints"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(docRuntimeHello), &doc); err != nil {
		t.Fatal(err)
	}
	ep := env.GetRuntimeHello().GetEndpoints()[0]
	if got, want := ep.GetCaps().AsMap(), doc.Payload.Endpoints[0].Caps; !reflect.DeepEqual(got, want) {
		t.Errorf("caps = %v, want %v", got, want)
	}
	if got, want := ep.GetSecurity().AsMap(), doc.Payload.Endpoints[0].Security; !reflect.DeepEqual(got, want) {
		t.Errorf("security = %v, want %v", got, want)
	}
}

// A frame without ts gets the hub's timestamp: ISO 8601, UTC, milliseconds;
// a frame with one keeps it verbatim. Ids are passed through.
func TestDecodeStampsTimestampAndKeepsID(t *testing.T) {
	local := time.Date(2024, 1, 15, 11, 30, 0, 123_456_789, time.FixedZone("CET", 3600))
	env, derr := amurg.Decode([]byte(`{"type":"ping"}`), amurg.RoleClient, local)
	if derr != nil {
		t.Fatal(derr)
	}
	if env.GetTs() != "2024-01-15T10:30:00.123Z" {
		t.Errorf("ts = %q, want 2024-01-15T10:30:00.123Z", env.GetTs())
	}
	if got := clock.Stamp(local); got != "2024-01-15T10:30:00.123Z" {
		t.Errorf("Timestamp = %q", got)
	}
	env, derr = amurg.Decode([]byte(`{"type":"ping","id":"p-1","ts":"whatever the peer says"}`), amurg.RoleRuntime, local)
	if derr != nil {
		t.Fatal(derr)
	}
	if env.GetId() != "p-1" || env.GetTs() != "whatever the peer says" {
		t.Errorf("id %q ts %q: want the frame's own", env.GetId(), env.GetTs())
	}
}

// A session_id given only at the envelope level is the session of the frame.
func TestDecodeSessionFromEnvelopeOnly(t *testing.T) {
	cases := []struct {
		frame string
		role  amurg.Role
	}{
		{`{"type":"session.close","session_id":"s-1"}`, amurg.RoleClient},
		{`{"type":"session.close","session_id":"s-1","payload":{"reason":"done"}}`, amurg.RoleRuntime},
		{`{"type":"stop.request","session_id":"s-1"}`, amurg.RoleClient},
		{`{"type":"user.message","session_id":"s-1","payload":{"message_id":"m","content":"hi"}}`, amurg.RoleClient},
		{`{"type":"agent.output","session_id":"s-1","payload":{"message_id":"o","seq":1,"channel":"stdout","content":"x","final":true}}`, amurg.RoleRuntime},
		{`{"type":"client.unsubscribe","session_id":"s-1","payload":{}}`, amurg.RoleClient},
	}
	for _, tc := range cases {
		env, derr := amurg.Decode([]byte(tc.frame), tc.role, fixedNow)
		if derr != nil {
			t.Errorf("%s: %v", tc.frame, derr)
			continue
		}
		if env.GetSessionId() != "s-1" {
			t.Errorf("%s: session %q, want s-1", tc.frame, env.GetSessionId())
		}
	}
}

// decodeJSON parses b into a generic JSON value.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

func encode(t *testing.T, env *syv1.Envelope, role amurg.Role) map[string]any {
	t.Helper()
	b, err := amurg.Encode(env, role)
	if err != nil {
		t.Fatalf("Encode %s for %s: %v", env.GetType(), role, err)
	}
	return decodeJSON(t, b)
}

// TestEncodeDocumentExamples renders hub→peer frames and compares them, as
// decoded JSON, with the document's examples: same field names, same
// values, nothing missing (ok:true, final:false, native_handle:"",
// always_allow:false, exit_code:0 are all present) and nothing extra.
func TestEncodeDocumentExamples(t *testing.T) {
	const sid = "session-uuid"
	cases := []struct {
		name string
		role amurg.Role
		env  *syv1.Envelope
		doc  string
	}{
		{"hello.ack", amurg.RoleRuntime, &syv1.Envelope{Type: "hello.ack", Ts: "2024-01-15T10:30:00Z",
			Body: &syv1.Envelope_HelloAck{HelloAck: &syv1.HelloAck{Ok: true}}}, docHelloAck},
		{"session.create", amurg.RoleRuntime, &syv1.Envelope{Type: "session.create", SessionId: sid, Ts: "2024-01-15T10:30:01Z",
			Body: &syv1.Envelope_SessionCreate{SessionCreate: &syv1.SessionCreate{SessionId: sid, EndpointId: "claude-code-prod", UserId: "user-uuid"}}}, docSessionCreate},
		{"user.message", amurg.RoleRuntime, &syv1.Envelope{Type: "user.message", SessionId: sid, Ts: "2024-01-15T10:30:05Z",
			Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: "msg-uuid", Content: "List all files in the current directory"}}}, docUserMessage},
		{"stop.request", amurg.RoleRuntime, &syv1.Envelope{Type: "stop.request", SessionId: sid, Ts: "2024-01-15T10:30:10Z",
			Body: &syv1.Envelope_StopRequest{StopRequest: &syv1.StopRequest{SessionId: sid}}}, docStopRequest},
		{"session.close to runtime", amurg.RoleRuntime, &syv1.Envelope{Type: "session.close", SessionId: sid, Ts: "2024-01-15T10:35:00Z",
			Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: sid, Reason: "user_requested"}}}, docSessionClose},
		{"permission.response", amurg.RoleRuntime, &syv1.Envelope{Type: "permission.response", SessionId: sid, Ts: "2024-01-15T10:31:05Z",
			Body: &syv1.Envelope_PermissionResponse{PermissionResponse: &syv1.PermissionResponse{SessionId: sid, RequestId: "req-uuid", Approved: true}}}, docPermissionResponse},
		{"file.upload", amurg.RoleRuntime, &syv1.Envelope{Type: "file.upload", SessionId: sid, Ts: "2024-01-15T10:32:00Z",
			Body: &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: sid, Data: pngBytes,
				Metadata: &syv1.FileMetadata{FileId: "file-uuid", Name: "input.csv", MimeType: "text/csv", Size: 1024}}}}, withData(docFileUpload, pngBytes)},
		{"ping", amurg.RoleRuntime, &syv1.Envelope{Type: "ping", Ts: "2024-01-15T10:30:00Z"}, docPing},
		{"pong", amurg.RoleClient, &syv1.Envelope{Type: "pong", Ts: "2024-01-15T10:30:00Z"}, docPong},
		{"error", amurg.RoleClient, &syv1.Envelope{Type: "error", SessionId: sid, Ts: "2024-01-15T10:30:05Z",
			Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: errcode.TurnInProgress, Message: "A turn is already in progress for this session"}}}, docError},
		// Hub→client relays of runtime events keep the document's shape.
		{"session.created relayed", amurg.RoleClient, &syv1.Envelope{Type: "session.created", SessionId: sid, Ts: "2024-01-15T10:30:01Z",
			Body: &syv1.Envelope_SessionCreated{SessionCreated: &syv1.SessionCreated{SessionId: sid, Ok: true}}}, docSessionCreated},
		{"turn.started to client", amurg.RoleClient, &syv1.Envelope{Type: "turn.started", SessionId: sid, Ts: "2024-01-15T10:30:05Z",
			Body: &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: sid, InResponseTo: "msg-uuid"}}}, docTurnStarted},
		{"turn.completed exit 0 to client", amurg.RoleClient, &syv1.Envelope{Type: "turn.completed", SessionId: sid, Ts: "2024-01-15T10:30:08Z",
			Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: sid, InResponseTo: "msg-uuid", ExitCode: i64(0)}}}, docTurnCompleted},
		{"permission.request to client", amurg.RoleClient, &syv1.Envelope{Type: "permission.request", SessionId: sid, Ts: "2024-01-15T10:31:02Z",
			Body: &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: sid, RequestId: "req-uuid", Tool: "Bash",
				Description: "Execute: rm -rf /tmp/build", Resource: "/tmp/build"}}}, docPermissionRequest},
		{"stop.ack", amurg.RoleClient, &syv1.Envelope{Type: "stop.ack", SessionId: sid, Ts: "2024-01-15T10:30:10Z",
			Body: &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{SessionId: sid, Ok: true}}}, docStopAck},
		{"client.subscribe", amurg.RoleClient, &syv1.Envelope{Type: "client.subscribe", Ts: "2024-01-15T10:30:00Z",
			Body: &syv1.Envelope_Subscribe{Subscribe: &syv1.Subscribe{SessionId: sid}}}, docClientSubscribe},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(t, tc.env, tc.role)
			want := decodeJSON(t, []byte(tc.doc))
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("%s frame for %s\n got: %s\nwant: %s", tc.name, tc.role, g, w)
			}
		})
	}
}

// Fields the document always shows must be present even at their zero
// value; optional ones must be absent when unset.
func TestEncodeZeroValuesAndOmissions(t *testing.T) {
	payload := func(t *testing.T, env *syv1.Envelope, role amurg.Role) map[string]any {
		t.Helper()
		m := encode(t, env, role)
		p, ok := m["payload"].(map[string]any)
		if !ok {
			t.Fatalf("%s: no payload object: %v", env.GetType(), m)
		}
		return p
	}
	t.Run("agent.output final:false", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "agent.output", SessionId: "s", Seq: 4,
			Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "s", MessageId: "o", Seq: 4, Channel: "stdout"}}}, amurg.RoleClient)
		if v, ok := p["final"]; !ok || v != false {
			t.Errorf("final = %v (present %v), want false present", v, ok)
		}
		if v, ok := p["content"]; !ok || v != "" {
			t.Errorf("content = %v (present %v), want \"\" present", v, ok)
		}
	})
	t.Run("hello.ack ok:false with error", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "hello.ack", Body: &syv1.Envelope_HelloAck{HelloAck: &syv1.HelloAck{Error: "bad token"}}}, amurg.RoleRuntime)
		if !reflect.DeepEqual(p, map[string]any{"ok": false, "error": "bad token"}) {
			t.Errorf("payload = %v", p)
		}
	})
	t.Run("session.created native_handle and ok present", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "session.created", Body: &syv1.Envelope_SessionCreated{SessionCreated: &syv1.SessionCreated{SessionId: "s"}}}, amurg.RoleClient)
		if !reflect.DeepEqual(p, map[string]any{"session_id": "s", "ok": false, "native_handle": ""}) {
			t.Errorf("payload = %v", p)
		}
	})
	t.Run("turn.completed exit_code omitted when unset", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "turn.completed", Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: "s", InResponseTo: "m"}}}, amurg.RoleClient)
		if _, ok := p["exit_code"]; ok {
			t.Errorf("exit_code present when unset: %v", p)
		}
		p = payload(t, &syv1.Envelope{Type: "turn.completed", Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: "s", InResponseTo: "m", ExitCode: i64(-9)}}}, amurg.RoleClient)
		if p["exit_code"] != float64(-9) {
			t.Errorf("exit_code = %v, want -9", p["exit_code"])
		}
	})
	t.Run("permission.response approved:false always_allow:false present", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "permission.response", Body: &syv1.Envelope_PermissionResponse{PermissionResponse: &syv1.PermissionResponse{SessionId: "s", RequestId: "r"}}}, amurg.RoleRuntime)
		if !reflect.DeepEqual(p, map[string]any{"session_id": "s", "request_id": "r", "approved": false, "always_allow": false}) {
			t.Errorf("payload = %v", p)
		}
	})
	t.Run("stop.ack ok:false", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "stop.ack", Body: &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{SessionId: "s", Error: "nothing running"}}}, amurg.RoleClient)
		if !reflect.DeepEqual(p, map[string]any{"session_id": "s", "ok": false, "error": "nothing running"}) {
			t.Errorf("payload = %v", p)
		}
	})
	t.Run("permission.request resource omitted when empty", func(t *testing.T) {
		p := payload(t, &syv1.Envelope{Type: "permission.request", Body: &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: "s", RequestId: "r", Tool: "Read"}}}, amurg.RoleClient)
		if !reflect.DeepEqual(p, map[string]any{"session_id": "s", "request_id": "r", "tool": "Read", "description": ""}) {
			t.Errorf("payload = %v", p)
		}
	})
	t.Run("session.closed", func(t *testing.T) {
		m := encode(t, &syv1.Envelope{Type: "session.closed", SessionId: "s", Seq: 9, Ts: "t",
			Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: "s", Reason: "idle"}}}, amurg.RoleClient)
		want := map[string]any{"type": "session.closed", "session_id": "s", "seq": float64(9), "ts": "t",
			"payload": map[string]any{"session_id": "s", "reason": "idle"}}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("frame = %v", m)
		}
	})
	t.Run("endpoint.config_update and token_refresh", func(t *testing.T) {
		sec := mustStruct(t, map[string]any{"permission_mode": "auto"})
		lim := mustStruct(t, map[string]any{"max_sessions": float64(3)})
		p := payload(t, &syv1.Envelope{Type: "endpoint.config_update", Body: &syv1.Envelope_EndpointConfigUpdate{
			EndpointConfigUpdate: &syv1.EndpointConfigUpdate{EndpointId: "ep", Security: sec, Limits: lim}}}, amurg.RoleRuntime)
		want := map[string]any{"endpoint_id": "ep", "security": map[string]any{"permission_mode": "auto"}, "limits": map[string]any{"max_sessions": float64(3)}}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("config_update payload = %v", p)
		}
		p = payload(t, &syv1.Envelope{Type: "runtime.token_refresh", Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: "t2", ExpiresAt: "2024-01-16T00:00:00Z"}}}, amurg.RoleRuntime)
		if !reflect.DeepEqual(p, map[string]any{"token": "t2", "expires_at": "2024-01-16T00:00:00Z"}) {
			t.Errorf("token_refresh payload = %v", p)
		}
	})
	t.Run("no payload for ping", func(t *testing.T) {
		m := encode(t, &syv1.Envelope{Type: "ping"}, amurg.RoleClient)
		if !reflect.DeepEqual(m, map[string]any{"type": "ping"}) {
			t.Errorf("frame = %v", m)
		}
	})
}

// The top-level seq is Switchyard's extension for clients only: clients
// see the per-session seq on every transcript frame, runtimes never see a
// top-level seq (their frames are exactly the document's).
func TestEncodeSeqExtensionOnlyForClients(t *testing.T) {
	envs := []*syv1.Envelope{
		{Type: "user.message", SessionId: "s", Seq: 7, Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: "s", MessageId: "m", Content: "c"}}},
		{Type: "agent.output", SessionId: "s", Seq: 7, Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "s", MessageId: "o", Seq: 7, Channel: "stderr"}}},
		{Type: "session.close", SessionId: "s", Seq: 7, Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: "s"}}},
		{Type: "file.upload", SessionId: "s", Seq: 7, Body: &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: "s", Data: []byte("x")}}},
	}
	for _, env := range envs {
		if m := encode(t, env, amurg.RoleRuntime); m["seq"] != nil {
			t.Errorf("%s for runtime has top-level seq %v", env.GetType(), m["seq"])
		}
		if m := encode(t, env, amurg.RoleClient); m["seq"] != float64(7) {
			t.Errorf("%s for client: top-level seq = %v, want 7", env.GetType(), m["seq"])
		}
	}
	// Frames outside a transcript (seq 0) carry no seq, even for clients.
	if m := encode(t, &syv1.Envelope{Type: "pong"}, amurg.RoleClient); m["seq"] != nil {
		t.Errorf("pong has seq %v", m["seq"])
	}
	// The agent.output payload seq is the hub's seq towards clients.
	m := encode(t, envs[1], amurg.RoleClient)
	if p := m["payload"].(map[string]any); p["seq"] != float64(7) {
		t.Errorf("agent.output payload seq = %v, want 7", p["seq"])
	}
}

// File bytes are base64 on the wire to runtimes and round-trip exactly;
// clients get metadata only, never the data (not even inside history).
func TestEncodeFileData(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i * 7)
	}
	md := &syv1.FileMetadata{FileId: "f1", Name: "a.bin", MimeType: "application/octet-stream", Size: int64(len(data))}
	up := &syv1.Envelope{Type: "file.upload", SessionId: "s", Body: &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: "s", Metadata: md, Data: data}}}
	p := encode(t, up, amurg.RoleRuntime)["payload"].(map[string]any)
	s, ok := p["data"].(string)
	if !ok {
		t.Fatalf("runtime file.upload has no data string: %v", p)
	}
	raw, err := base64.StdEncoding.DecodeString(s) // standard alphabet, padded
	if err != nil || !reflect.DeepEqual(raw, data) {
		t.Errorf("data does not round-trip through standard base64: %v", err)
	}
	// What a runtime sends back with the same bytes decodes to the same bytes.
	b, _ := amurg.Encode(&syv1.Envelope{Type: "file.available", SessionId: "s", Body: up.Body}, amurg.RoleRuntime)
	env, derr := amurg.Decode(b, amurg.RoleRuntime, fixedNow)
	if derr != nil {
		t.Fatal(derr)
	}
	if !reflect.DeepEqual(env.GetFile().GetData(), data) {
		t.Error("file.available data changed in a decode/encode round trip")
	}

	avail := &syv1.Envelope{Type: "file.available", SessionId: "s", Seq: 3, Body: &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: "s", Metadata: md, Data: data}}}
	p = encode(t, avail, amurg.RoleClient)["payload"].(map[string]any)
	if _, ok := p["data"]; ok {
		t.Errorf("client got file data: %v", p)
	}
	wantMD := map[string]any{"file_id": "f1", "name": "a.bin", "mime_type": "application/octet-stream", "size": float64(300)}
	if !reflect.DeepEqual(p["metadata"], wantMD) {
		t.Errorf("client metadata = %v, want %v", p["metadata"], wantMD)
	}

	hist := &syv1.Envelope{Type: "history.response", SessionId: "s", Body: &syv1.Envelope_HistoryResponse{HistoryResponse: &syv1.HistoryResponse{
		SessionId: "s", LastSeq: 3, Messages: []*syv1.Envelope{avail}}}}
	msgs := encode(t, hist, amurg.RoleClient)["payload"].(map[string]any)["messages"].([]any)
	if _, ok := msgs[0].(map[string]any)["payload"].(map[string]any)["data"]; ok {
		t.Error("client got file data inside history.response")
	}
}

// history.response: the replayed frames are rendered as the client would
// have seen them live (with their top-level seq), in order.
func TestEncodeHistoryResponse(t *testing.T) {
	msgs := []*syv1.Envelope{
		{Type: "user.message", SessionId: "s", Seq: 43, Ts: "t1", Id: "msg-m1",
			Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: "s", MessageId: "m1", Content: "ls"}}},
		{Type: "turn.started", SessionId: "s", Seq: 44, Ts: "t2", Body: &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: "s", InResponseTo: "m1"}}},
		{Type: "agent.output", SessionId: "s", Seq: 45, Ts: "t3", Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "s", MessageId: "o", Seq: 45, Channel: "stdout", Content: "a\n"}}},
	}
	env := &syv1.Envelope{Type: "history.response", SessionId: "s", Ts: "t9", Body: &syv1.Envelope_HistoryResponse{HistoryResponse: &syv1.HistoryResponse{
		SessionId: "s", AfterSeq: 42, LastSeq: 45, HasMore: true, Messages: msgs}}}
	got := encode(t, env, amurg.RoleClient)
	var wantMsgs []any
	for _, m := range msgs {
		wantMsgs = append(wantMsgs, encode(t, m, amurg.RoleClient))
	}
	want := map[string]any{
		"type": "history.response", "session_id": "s", "ts": "t9",
		"payload": map[string]any{"session_id": "s", "after_seq": float64(42), "last_seq": float64(45), "has_more": true, "messages": wantMsgs},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("history.response\n got: %s\nwant: %s", g, w)
	}
	for i, m := range wantMsgs {
		if m.(map[string]any)["seq"] != float64(43+i) {
			t.Errorf("messages[%d] seq = %v", i, m.(map[string]any)["seq"])
		}
	}
	// An empty page still has messages: [] and has_more:false.
	empty := &syv1.Envelope{Type: "history.response", SessionId: "s", Body: &syv1.Envelope_HistoryResponse{HistoryResponse: &syv1.HistoryResponse{SessionId: "s", AfterSeq: 5, LastSeq: 5}}}
	p := encode(t, empty, amurg.RoleClient)["payload"].(map[string]any)
	if !reflect.DeepEqual(p, map[string]any{"session_id": "s", "after_seq": float64(5), "last_seq": float64(5), "has_more": false, "messages": []any{}}) {
		t.Errorf("empty history payload = %v", p)
	}
}

// ErrorFrame renders the document's error frame; an empty session id is
// left out.
func TestErrorFrame(t *testing.T) {
	got := decodeJSON(t, amurg.ErrorFrame("session-uuid", errcode.TurnInProgress, "A turn is already in progress for this session", "2024-01-15T10:30:05Z"))
	if want := decodeJSON(t, []byte(docError)); !reflect.DeepEqual(got, want) {
		t.Errorf("ErrorFrame = %v, want %v", got, want)
	}
	got = decodeJSON(t, amurg.ErrorFrame("", errcode.InvalidJSON, "x", "ts"))
	if _, ok := got["session_id"]; ok {
		t.Errorf("empty session_id rendered: %v", got)
	}
}

// An envelope with a body the dialect cannot render (internal bodies) is an
// error, not a half-rendered frame.
func TestEncodeInternalBodyFails(t *testing.T) {
	env := &syv1.Envelope{Type: "route.failed", Body: &syv1.Envelope_RouteFailed{RouteFailed: &syv1.RouteFailed{Code: "x"}}}
	if b, err := amurg.Encode(env, amurg.RoleClient); err == nil {
		t.Errorf("Encode(route.failed) = %s, want an error", b)
	}
	hist := &syv1.Envelope{Type: "history.response", Body: &syv1.Envelope_HistoryResponse{HistoryResponse: &syv1.HistoryResponse{Messages: []*syv1.Envelope{env}}}}
	if b, err := amurg.Encode(hist, amurg.RoleClient); err == nil {
		t.Errorf("Encode(history with route.failed) = %s, want an error", b)
	}
}

// A frame relayed by the hub must carry payload.session_id, as every
// example of the document does, even when the sender named its session only
// at the envelope level: the session service forwards (and stores) the
// decoded body unchanged, so whatever Decode leaves in the body is what the
// runtime or the subscribed clients receive.
func TestRelayedFramesCarryPayloadSession(t *testing.T) {
	cases := []struct {
		from, to amurg.Role
		frame    string
	}{
		{amurg.RoleClient, amurg.RoleRuntime, `{"type":"user.message","session_id":"s-1","payload":{"message_id":"m","content":"hi"}}`},
		{amurg.RoleClient, amurg.RoleRuntime, `{"type":"stop.request","session_id":"s-1"}`},
		{amurg.RoleClient, amurg.RoleRuntime, `{"type":"session.close","session_id":"s-1"}`},
		{amurg.RoleClient, amurg.RoleRuntime, `{"type":"permission.response","session_id":"s-1","payload":{"request_id":"r","approved":true}}`},
		{amurg.RoleRuntime, amurg.RoleClient, `{"type":"agent.output","session_id":"s-1","payload":{"message_id":"o","seq":1,"channel":"stdout","content":"x","final":false}}`},
		{amurg.RoleRuntime, amurg.RoleClient, `{"type":"turn.completed","session_id":"s-1","payload":{"in_response_to":"m","exit_code":0}}`},
	}
	for _, tc := range cases {
		env, derr := amurg.Decode([]byte(tc.frame), tc.from, fixedNow)
		if derr != nil {
			t.Fatalf("%s: %v", tc.frame, derr)
		}
		p := encode(t, env, tc.to)["payload"].(map[string]any)
		if p["session_id"] != "s-1" {
			t.Errorf("%s from %s → %s: payload.session_id = %q, want s-1", env.GetType(), tc.from, tc.to, p["session_id"])
		}
	}
}
