package amurg

import (
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var chatNow = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The chat extensions decode into their bodies, and a client subscriber of
// the session sees them as the documented frames (protocol-notes.md).
func TestChatExtensionsDecodeAndRender(t *testing.T) {
	exit := int64(0)
	for _, c := range []struct {
		name   string
		role   Role
		in     string
		body   proto.Message
		client string // the frame a client receives ("" = same as in)
	}{
		{"tool_use", RoleRuntime,
			`{"type":"agent.tool_use","session_id":"s1","ts":"2024-01-15T10:30:06Z","payload":{"session_id":"s1","id":"toolu_abc123","name":"Glob","input":{"pattern":"*"}}}`,
			&syv1.ToolUse{SessionId: "s1", Id: "toolu_abc123", Name: "Glob", Input: mustStruct(t, map[string]any{"pattern": "*"})}, ""},
		{"tool_use without input", RoleRuntime,
			`{"type":"agent.tool_use","session_id":"s1","ts":"2024-01-15T10:30:06Z","payload":{"session_id":"s1","id":"t","name":"Bash"}}`,
			&syv1.ToolUse{SessionId: "s1", Id: "t", Name: "Bash", Input: &structpb.Struct{}},
			`{"type":"agent.tool_use","session_id":"s1","ts":"2024-01-15T10:30:06Z","payload":{"session_id":"s1","id":"t","name":"Bash","input":{}}}`},
		{"tool_result", RoleRuntime,
			`{"type":"agent.tool_result","session_id":"s1","ts":"2024-01-15T10:30:07Z","payload":{"session_id":"s1","tool_use_id":"toolu_abc123","content":"Cargo.toml\nREADME.md\nsrc/","is_error":false}}`,
			&syv1.ToolResult{SessionId: "s1", ToolUseId: "toolu_abc123", Content: "Cargo.toml\nREADME.md\nsrc/"}, ""},
		{"turn.completed with usage", RoleRuntime,
			`{"type":"turn.completed","session_id":"s1","ts":"2024-01-15T10:30:08Z","payload":{"session_id":"s1","in_response_to":"m1","exit_code":0,"usage":{"num_turns":2,"cost_usd":0.004,"input_tokens":1200,"output_tokens":150},"is_error":false,"errors":[]}}`,
			&syv1.TurnCompleted{SessionId: "s1", InResponseTo: "m1", ExitCode: &exit, Outcome: &syv1.TurnOutcome{Usage: &syv1.TurnUsage{NumTurns: 2, CostUsd: 0.004, InputTokens: 1200, OutputTokens: 150}}}, ""},
		{"turn.completed errors only", RoleRuntime,
			`{"type":"turn.completed","session_id":"s1","ts":"2024-01-15T10:30:08Z","payload":{"session_id":"s1","in_response_to":"m1","is_error":true,"errors":["max turns reached"]}}`,
			&syv1.TurnCompleted{SessionId: "s1", InResponseTo: "m1", Outcome: &syv1.TurnOutcome{IsError: true, Errors: []string{"max turns reached"}}}, ""},
		{"turn.completed of the document", RoleRuntime,
			`{"type":"turn.completed","session_id":"s1","ts":"2024-01-15T10:30:08Z","payload":{"session_id":"s1","in_response_to":"m1","exit_code":0}}`,
			&syv1.TurnCompleted{SessionId: "s1", InResponseTo: "m1", ExitCode: &exit}, ""},
		{"follow-up", RoleClient,
			`{"type":"user.message","session_id":"s1","ts":"2024-01-15T10:30:09Z","payload":{"session_id":"s1","message_id":"m2","content":"also check hidden files","followup":true}}`,
			&syv1.UserMessage{SessionId: "s1", MessageId: "m2", Content: "also check hidden files", Followup: true}, ""},
		{"update progress", RoleRuntime,
			`{"type":"agent.update_progress","ts":"2024-01-15T10:30:10Z","payload":{"percent":42,"state":"downloading","version":"1.4.0"}}`,
			&syv1.AppUpdateProgress{Data: mustStruct(t, map[string]any{"percent": 42, "state": "downloading", "version": "1.4.0"})}, ""},
	} {
		env, err := Decode([]byte(c.in), c.role, chatNow)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body := env.ProtoReflect().Get(env.ProtoReflect().WhichOneof(env.ProtoReflect().Descriptor().Oneofs().ByName("body"))).Message().Interface()
		if !proto.Equal(body, c.body) {
			t.Fatalf("%s: body %s", c.name, prototext.Format(body))
		}
		out, eerr := Encode(env, RoleClient)
		want := c.client
		if want == "" {
			want = c.in
		}
		if eerr != nil || string(out) != want {
			t.Errorf("%s: client frame\n got %s (%v)\nwant %s", c.name, out, eerr, want)
		}
	}
}

// A runtime receives a follow-up as user.message with followup:true; an
// ordinary user.message is the document's frame, without the field.
func TestFollowupToRuntime(t *testing.T) {
	msg := func(f bool) *syv1.Envelope {
		return &syv1.Envelope{Type: TypeUserMessage, SessionId: "s", Ts: "t", Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: "s", MessageId: "m", Content: "c", Followup: f}}}
	}
	for f, want := range map[bool]string{
		true:  `{"type":"user.message","session_id":"s","ts":"t","payload":{"session_id":"s","message_id":"m","content":"c","followup":true}}`,
		false: `{"type":"user.message","session_id":"s","ts":"t","payload":{"session_id":"s","message_id":"m","content":"c"}}`,
	} {
		if out, err := Encode(msg(f), RoleRuntime); err != nil || string(out) != want {
			t.Errorf("followup %v: %s %v", f, out, err)
		}
	}
}

func TestChatExtensionErrors(t *testing.T) {
	for _, c := range []struct {
		role Role
		in   string
		code string
	}{
		{RoleClient, `{"type":"agent.tool_use","session_id":"s","payload":{"id":"t","name":"Bash"}}`, errcode.UnsupportedType},
		{RoleClient, `{"type":"agent.update_progress","payload":{}}`, errcode.UnsupportedType},
		{RoleRuntime, `{"type":"agent.tool_use","session_id":"s","payload":{"name":"Bash"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.tool_use","session_id":"s","payload":{"id":"t"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.tool_use","session_id":"s","payload":{"id":"t","name":"Bash","input":[1]}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.tool_use","payload":{"id":"t","name":"Bash"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.tool_result","session_id":"s","payload":{"content":"x"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.tool_result","session_id":"s","payload":{"tool_use_id":"t","is_error":"no"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"turn.completed","session_id":"s","payload":{"usage":{"num_turns":-1}}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"turn.completed","session_id":"s","payload":{"usage":{"cost_usd":"free"}}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"turn.completed","session_id":"s","payload":{"errors":"boom"}}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.update_progress"}`, errcode.InvalidMessage},
		{RoleRuntime, `{"type":"agent.update_progress","payload":[1]}`, errcode.InvalidMessage},
		{RoleClient, `{"type":"user.message","session_id":"s","payload":{"message_id":"m","content":"c","followup":"yes"}}`, errcode.InvalidMessage},
	} {
		if _, err := Decode([]byte(c.in), c.role, chatNow); err == nil || err.Code != c.code {
			t.Errorf("%s: %v, want %s", c.in, err, c.code)
		}
	}
}

// FuzzChatRoundTrip: every chat extension body built from arbitrary
// values, rendered for the runtime socket that sends it, decodes to itself.
func FuzzChatRoundTrip(f *testing.F) {
	f.Add(uint8(0), "s1", "toolu_1", "Glob", "*", int64(2), 0.004, true)
	f.Add(uint8(1), "s1", "toolu_1", "Cargo.toml\nREADME.md", "", int64(0), 0.0, false)
	f.Add(uint8(2), "s_2", "m", "", "x", int64(1<<40), 1e300, true)
	f.Add(uint8(3), "s", "a", "b", "c", int64(0), 0.5, false)
	f.Fuzz(func(t *testing.T, kind uint8, session, a, b, c string, n int64, cost float64, flag bool) {
		if !validUTF8(session, a, b, c) || !bus.ValidToken(session) || n < 0 || cost < 0 || cost != cost || cost > 1e308 {
			return
		}
		env := &syv1.Envelope{SessionId: session, Ts: "2024-01-15T10:30:00Z", Id: a}
		switch kind % 4 {
		case 0:
			if a == "" || b == "" || len(a) > maxToolIDBytes || len(b) > maxToolIDBytes {
				return
			}
			env.Type = TypeToolUse
			env.Body = &syv1.Envelope_ToolUse{ToolUse: &syv1.ToolUse{SessionId: session, Id: a, Name: b, Input: mustStruct(t, map[string]any{"k": c, "n": float64(n)})}}
		case 1:
			if a == "" || len(a) > maxToolIDBytes {
				return
			}
			env.Type = TypeToolResult
			env.Body = &syv1.Envelope_ToolResult{ToolResult: &syv1.ToolResult{SessionId: session, ToolUseId: a, Content: b, IsError: flag}}
		case 2:
			env.Type = TypeTurnCompleted
			o := &syv1.TurnOutcome{IsError: flag}
			if c != "" {
				o.Errors = []string{c, b}
			}
			if n%2 == 0 {
				o.Usage = &syv1.TurnUsage{NumTurns: n, CostUsd: cost, InputTokens: n / 3, OutputTokens: n / 7}
			}
			env.Body = &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: session, InResponseTo: a, Outcome: o}}
		case 3:
			env.Type = TypeUpdateProgress
			env.Body = &syv1.Envelope_AppUpdateProgress{AppUpdateProgress: &syv1.AppUpdateProgress{Data: mustStruct(t, map[string]any{a: b, "ok": flag})}}
		}
		frame, err := Encode(env, RoleRuntime)
		if err != nil {
			t.Fatalf("Encode %s: %v", env.GetType(), err)
		}
		got, derr := Decode(frame, RoleRuntime, time.Now())
		if derr != nil {
			t.Fatalf("Decode(%s): %v", frame, derr)
		}
		if !proto.Equal(got, env) {
			t.Fatalf("round trip changed the envelope\n sent: %s\n  got: %s\nframe: %s", prototext.Format(env), prototext.Format(got), frame)
		}
	})
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
