package amurg

import (
	"bytes"
	"encoding/json"
	"testing"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// marshalHistory is the reference rendering of a history.response: the
// frame through json.Marshal, each message as a json.RawMessage.
func marshalHistory(t *testing.T, env *syv1.Envelope, role Role) []byte {
	t.Helper()
	h := env.GetHistoryResponse()
	render := func(envs []*syv1.Envelope) []json.RawMessage {
		out := make([]json.RawMessage, 0, len(envs))
		for _, m := range envs {
			b, err := Encode(m, role)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	p := historyResponseJSON{SessionID: h.GetSessionId(), AfterSeq: h.GetAfterSeq(), LastSeq: h.GetLastSeq(), HasMore: h.GetHasMore(),
		FirstSeq: h.GetFirstSeq(), Trimmed: h.GetTrimmed(), Messages: render(h.GetMessages())}
	if len(h.GetPendingPermissions()) > 0 {
		p.PendingPermissions = render(h.GetPendingPermissions())
	}
	f := outFrame{Type: env.GetType(), ID: env.GetId(), SessionID: env.GetSessionId(), Seq: env.GetSeq(), Ts: env.GetTs(), Payload: p}
	if role == RoleRuntime {
		f.Seq = 0
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHistoryEncodingMatchesMarshal: the one-pass history.response is
// byte for byte what json.Marshal of the frame gives (empty pages, HTML
// and non-ASCII text, pending permissions, both roles).
func TestHistoryEncodingMatchesMarshal(t *testing.T) {
	msg := func(seq int64, content string) *syv1.Envelope {
		return &syv1.Envelope{Type: TypeAgentOutput, SessionId: "s<1>", Seq: seq, Ts: "2024-01-15T10:30:06.000Z",
			Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "s<1>", MessageId: "m&1", Seq: seq, Channel: "stdout", Content: content}}}
	}
	perm := &syv1.Envelope{Type: TypePermissionRequest, SessionId: "s<1>", Seq: 3,
		Body: &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: "s<1>", RequestId: "r", Tool: "sh", Description: "run <rm>"}}}
	for name, h := range map[string]*syv1.HistoryResponse{
		"empty":   {SessionId: "s<1>"},
		"page":    {SessionId: "s<1>", AfterSeq: 4, LastSeq: 6, HasMore: true, Messages: []*syv1.Envelope{msg(5, "a <b> & \"c\" \u2028 é"), msg(6, "")}},
		"trimmed": {SessionId: "s<1>", AfterSeq: 0, LastSeq: 6, FirstSeq: 5, Trimmed: true, Messages: []*syv1.Envelope{msg(5, "a"), msg(6, "b")}},
		"gone":    {SessionId: "s<1>", AfterSeq: 2, LastSeq: 9, Trimmed: true},
		"pending": {SessionId: "s<1>", LastSeq: 2, Messages: []*syv1.Envelope{msg(1, "x")}, PendingPermissions: []*syv1.Envelope{perm}},
	} {
		env := &syv1.Envelope{Type: TypeHistoryResponse, Id: "h1", SessionId: "s<1>", Seq: 9, Ts: "2024-01-15T10:30:07.000Z",
			Body: &syv1.Envelope_HistoryResponse{HistoryResponse: h}}
		for _, role := range []Role{RoleClient, RoleRuntime} {
			got, err := Encode(env, role)
			if err != nil {
				t.Fatal(err)
			}
			if want := marshalHistory(t, env, role); !bytes.Equal(got, want) {
				t.Errorf("%s/%s:\n got %s\nwant %s", name, role, got, want)
			}
		}
	}
}

// TestHistoryShowsTrimmed: a page whose range was partly removed by
// retention tells the client (first_seq, trimmed); an untrimmed one has
// neither field unless the hub read the first stored seq.
func TestHistoryShowsTrimmed(t *testing.T) {
	env := func(h *syv1.HistoryResponse) *syv1.Envelope {
		return &syv1.Envelope{Type: TypeHistoryResponse, SessionId: "s", Body: &syv1.Envelope_HistoryResponse{HistoryResponse: h}}
	}
	got, err := Encode(env(&syv1.HistoryResponse{SessionId: "s", AfterSeq: 0, LastSeq: 9, FirstSeq: 7, Trimmed: true}), RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"has_more":false,"first_seq":7,"trimmed":true,"messages":[]`; !bytes.Contains(got, []byte(want)) {
		t.Fatalf("trimmed page %s, want it to contain %s", got, want)
	}
	got, _ = Encode(env(&syv1.HistoryResponse{SessionId: "s", LastSeq: 2}), RoleClient)
	if bytes.Contains(got, []byte("trimmed")) || bytes.Contains(got, []byte("first_seq")) {
		t.Fatalf("untrimmed page %s names first_seq or trimmed", got)
	}
}
