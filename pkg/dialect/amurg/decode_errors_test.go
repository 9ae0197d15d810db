package amurg_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// TestDecodeErrors: every way a frame is refused, with the code the hub
// answers with and, where the frame was readable, its type and session.
func TestDecodeErrors(t *testing.T) {
	rt, cl := amurg.RoleRuntime, amurg.RoleClient
	cases := []struct {
		name    string
		role    amurg.Role
		frame   string
		code    string
		typ     string // expected Error.Type ("" when unreadable)
		session string // expected Error.SessionID
	}{
		// Not a JSON object.
		{"garbage", cl, `not json`, errcode.InvalidJSON, "", ""},
		{"empty", rt, ``, errcode.InvalidJSON, "", ""},
		{"array", cl, `[{"type":"ping"}]`, errcode.InvalidJSON, "", ""},
		{"string", rt, `"ping"`, errcode.InvalidJSON, "", ""},
		{"number", rt, `42`, errcode.InvalidJSON, "", ""},
		{"truncated", cl, `{"type":"ping"`, errcode.InvalidJSON, "", ""},
		{"trailing garbage", cl, `{"type":"ping"} x`, errcode.InvalidJSON, "", ""},

		// A JSON object without a usable type.
		{"no type", cl, `{"session_id":"s"}`, errcode.InvalidMessage, "", ""},
		{"empty type", rt, `{"type":""}`, errcode.InvalidMessage, "", ""},

		// Types.
		{"unknown type runtime", rt, `{"type":"agent.thinking","session_id":"s"}`, errcode.UnknownType, "agent.thinking", "s"},
		{"unknown type client", cl, `{"type":"PING"}`, errcode.UnknownType, "PING", ""},
		{"hub-only type on runtime", rt, `{"type":"hello.ack","payload":{"ok":true}}`, errcode.UnsupportedType, "hello.ack", ""},
		{"hub-only type on client", cl, `{"type":"history.response","session_id":"s"}`, errcode.UnsupportedType, "history.response", "s"},
		{"error frame from client", cl, `{"type":"error"}`, errcode.UnsupportedType, "error", ""},
		{"runtime type on client", cl, `{"type":"agent.output","session_id":"s","payload":{}}`, errcode.UnsupportedType, "agent.output", "s"},
		{"client type on runtime", rt, `{"type":"client.subscribe","payload":{"session_id":"s"}}`, errcode.UnsupportedType, "client.subscribe", ""},
		{"hub command on runtime", rt, `{"type":"user.message","session_id":"s","payload":{}}`, errcode.UnsupportedType, "user.message", "s"},
		{"hello on client", cl, `{"type":"runtime.hello","payload":{}}`, errcode.UnsupportedType, "runtime.hello", ""},
		{"session.closed from client", cl, `{"type":"session.closed","session_id":"s"}`, errcode.UnsupportedType, "session.closed", "s"},

		// Payloads.
		{"missing payload", cl, `{"type":"user.message","session_id":"s"}`, errcode.InvalidMessage, "user.message", "s"},
		{"null payload", rt, `{"type":"agent.output","session_id":"s","payload":null}`, errcode.InvalidMessage, "agent.output", "s"},
		{"array payload", rt, `{"type":"turn.started","session_id":"s","payload":[]}`, errcode.InvalidMessage, "turn.started", "s"},
		{"string payload", cl, `{"type":"client.subscribe","payload":"s"}`, errcode.InvalidMessage, "client.subscribe", ""},
		{"wrong field type", rt, `{"type":"agent.output","session_id":"s","payload":{"seq":"1"}}`, errcode.InvalidMessage, "agent.output", "s"},
		{"exit_code string", rt, `{"type":"turn.completed","session_id":"s","payload":{"exit_code":"0"}}`, errcode.InvalidMessage, "turn.completed", "s"},
		{"exit_code fraction", rt, `{"type":"turn.completed","session_id":"s","payload":{"exit_code":1.5}}`, errcode.InvalidMessage, "turn.completed", "s"},
		{"ok not bool", rt, `{"type":"stop.ack","session_id":"s","payload":{"ok":"true"}}`, errcode.InvalidMessage, "stop.ack", "s"},
		{"permission.request without request_id", rt, `{"type":"permission.request","session_id":"s","payload":{"tool":"Bash"}}`, errcode.InvalidMessage, "permission.request", "s"},
		{"permission.request request_id not a token", rt, `{"type":"permission.request","session_id":"s","payload":{"request_id":"req 1","tool":"Bash"}}`, errcode.InvalidMessage, "permission.request", "s"},
		{"permission.response request_id not a token", cl, `{"type":"permission.response","session_id":"s","payload":{"request_id":"a.b","approved":true}}`, errcode.InvalidMessage, "permission.response", "s"},
		{"permission.response without request_id", cl, `{"type":"permission.response","session_id":"s","payload":{"approved":true}}`, errcode.InvalidMessage, "permission.response", "s"},
		{"negative after_seq", cl, `{"type":"client.subscribe","payload":{"session_id":"s","after_seq":-1}}`, errcode.InvalidMessage, "client.subscribe", ""},
		{"unsubscribe without payload", cl, `{"type":"client.unsubscribe","session_id":"s"}`, errcode.InvalidMessage, "client.unsubscribe", "s"},
		{"bad base64", rt, docFileAvailable, errcode.InvalidMessage, "file.available", "session-uuid"},
		{"base64 url alphabet", rt, `{"type":"file.available","session_id":"s","payload":{"metadata":{},"data":"-_-_"}}`, errcode.InvalidMessage, "file.available", "s"},
		{"data not base64", rt, `{"type":"file.available","session_id":"s","payload":{"data":"abc"}}`, errcode.InvalidMessage, "file.available", "s"},
		{"data number", rt, `{"type":"file.available","session_id":"s","payload":{"data":12}}`, errcode.InvalidMessage, "file.available", "s"},

		// Sessions.
		{"no session anywhere", rt, `{"type":"agent.output","payload":{"message_id":"o"}}`, errcode.InvalidMessage, "agent.output", ""},
		{"no session close", cl, `{"type":"session.close"}`, errcode.InvalidMessage, "session.close", ""},
		{"no session stop", cl, `{"type":"stop.request","payload":{}}`, errcode.InvalidMessage, "stop.request", ""},
		{"no session subscribe", cl, `{"type":"client.subscribe","payload":{"after_seq":3}}`, errcode.InvalidMessage, "client.subscribe", ""},
		{"no session created", rt, `{"type":"session.created","payload":{"ok":true}}`, errcode.InvalidMessage, "session.created", ""},
		{"mismatched session", cl, `{"type":"user.message","session_id":"a","payload":{"session_id":"b","message_id":"m","content":"c"}}`, errcode.InvalidMessage, "user.message", "a"},
		{"mismatched session runtime", rt, `{"type":"turn.started","session_id":"a","payload":{"session_id":"b"}}`, errcode.InvalidMessage, "turn.started", "a"},

		// Identifiers and nesting (issue 9 item 7).
		{"message_id with space", cl, `{"type":"user.message","session_id":"s","payload":{"message_id":"a b","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"message_id with CRLF", cl, `{"type":"user.message","session_id":"s","payload":{"message_id":"a\r\nb","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"message_id path", cl, `{"type":"user.message","session_id":"s","payload":{"message_id":"../../etc/passwd:x","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"message_id 200k", cl, `{"type":"user.message","session_id":"s","payload":{"message_id":"` + strings.Repeat("m", 200000) + `","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"message_id 129", cl, `{"type":"user.message","session_id":"s","payload":{"message_id":"` + strings.Repeat("m", 129) + `","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"envelope id with space", cl, `{"type":"user.message","id":"a b","session_id":"s","payload":{"message_id":"m","content":"c"}}`, errcode.InvalidMessage, "user.message", "s"},
		{"hello caps 5000 deep", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"id":"e","caps":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}]}}`, errcode.InvalidMessage, "", ""},
		{"frame 65 deep", cl, `{"type":"ping","payload":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, errcode.InvalidMessage, "", ""},

		// Runtime hello.
		{"hello without payload", rt, `{"type":"runtime.hello"}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello without runtime_id", rt, `{"type":"runtime.hello","payload":{"token":"t","endpoints":[]}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello runtime_id with dot", rt, `{"type":"runtime.hello","payload":{"runtime_id":"a.b","token":"t"}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello endpoint id wildcard", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"id":"*"}]}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello endpoint without id", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"name":"x"}]}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello caps not object", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"id":"e","caps":[1]}]}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello security not object", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"id":"e","security":"strict"}]}}`, errcode.InvalidMessage, "runtime.hello", ""},
		{"hello tag not string", rt, `{"type":"runtime.hello","payload":{"runtime_id":"r","endpoints":[{"id":"e","tags":{"n":1}}]}}`, errcode.InvalidMessage, "runtime.hello", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, derr := amurg.Decode([]byte(tc.frame), tc.role, fixedNow)
			if derr == nil {
				t.Fatalf("Decode(%s) on %s = %v, want %s", tc.frame, tc.role, env, tc.code)
			}
			if env != nil {
				t.Errorf("Decode returned an envelope with an error: %v", env)
			}
			if derr.Code != tc.code {
				t.Errorf("code = %s (%s), want %s", derr.Code, derr.Message, tc.code)
			}
			if derr.Message == "" || !strings.HasPrefix(derr.Error(), derr.Code+": ") {
				t.Errorf("Error() = %q: want the code and a message", derr.Error())
			}
			if derr.Type != tc.typ || derr.SessionID != tc.session {
				t.Errorf("Error type/session = %q/%q, want %q/%q", derr.Type, derr.SessionID, tc.typ, tc.session)
			}
		})
	}
}

// Session ids become NATS subject tokens (sy.in.<p>.<session>): anything
// but 1-128 letters, digits, '-' and '_' is refused, wherever it appears.
func TestDecodeSessionIDTokens(t *testing.T) {
	bad := []string{"a.b", "a b", "a*", ">", "a>", "sess\tion", "sess\nion", "ü", "a/b", "a:b", "a$b", strings.Repeat("x", 129)}
	good := []string{"a", "session-uuid", "S_1-2", "0", strings.Repeat("x", 128), "550e8400-e29b-41d4-a716-446655440000"}
	for _, sid := range bad {
		frames := []struct {
			role  amurg.Role
			frame string
		}{
			{amurg.RoleRuntime, `{"type":"turn.started","session_id":` + quote(sid) + `,"payload":{"in_response_to":"m"}}`},
			{amurg.RoleRuntime, `{"type":"turn.started","payload":{"session_id":` + quote(sid) + `,"in_response_to":"m"}}`},
			{amurg.RoleClient, `{"type":"client.subscribe","payload":{"session_id":` + quote(sid) + `}}`},
			{amurg.RoleClient, `{"type":"session.close","session_id":` + quote(sid) + `}`},
			{amurg.RoleClient, `{"type":"ping","session_id":` + quote(sid) + `}`},
			{amurg.RoleRuntime, `{"type":"endpoint.config_ack","session_id":` + quote(sid) + `,"payload":{"endpoint_id":"e","ok":true}}`},
		}
		for _, f := range frames {
			env, derr := amurg.Decode([]byte(f.frame), f.role, fixedNow)
			if derr == nil || derr.Code != errcode.InvalidMessage {
				t.Errorf("session %q in %s: Decode = %v, %v; want invalid_message", sid, f.frame, env, derr)
			}
		}
	}
	for _, sid := range good {
		env, derr := amurg.Decode([]byte(`{"type":"client.subscribe","payload":{"session_id":`+quote(sid)+`,"after_seq":2}}`), amurg.RoleClient, fixedNow)
		if derr != nil {
			t.Errorf("session %q refused: %v", sid, derr)
			continue
		}
		if env.GetSessionId() != sid || env.GetSubscribe().GetAfterSeq() != 2 {
			t.Errorf("session %q: got %q after %d", sid, env.GetSessionId(), env.GetSubscribe().GetAfterSeq())
		}
	}
}

// quote renders s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The document's file examples carry a placeholder, not base64: verbatim
// they are refused (the hub never stores undecodable bytes).
func TestDocumentPlaceholderDataIsRefused(t *testing.T) {
	_, derr := amurg.Decode([]byte(docFileAvailable), amurg.RoleRuntime, fixedNow)
	if derr == nil || derr.Code != errcode.InvalidMessage || !strings.Contains(derr.Message, "file.available") {
		t.Errorf("verbatim file.available example: %v, want invalid_message about file.available", derr)
	}
}

// errcode documents invalid_json as "the frame is not a JSON object" and
// invalid_message as "a required field is missing or has the wrong type".
// A JSON object whose envelope fields have the wrong JSON type is the
// latter; the JSON literal null is the former.
func TestDecodeErrorClassification(t *testing.T) {
	cases := []struct{ frame, code string }{
		{`{"type":5}`, errcode.InvalidMessage},
		{`{"type":"ping","session_id":7}`, errcode.InvalidMessage},
		{`{"type":"ping","seq":"1"}`, errcode.InvalidMessage},
		{`{"type":"ping","id":{}}`, errcode.InvalidMessage},
		{`null`, errcode.InvalidJSON},
	}
	for _, tc := range cases {
		_, derr := amurg.Decode([]byte(tc.frame), amurg.RoleClient, fixedNow)
		if derr == nil || derr.Code != tc.code {
			t.Errorf("Decode(%s) = %v, want %s", tc.frame, derr, tc.code)
		}
	}
}
