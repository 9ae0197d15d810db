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
	p := historyResponseJSON{SessionID: h.GetSessionId(), AfterSeq: h.GetAfterSeq(), LastSeq: h.GetLastSeq(), HasMore: h.GetHasMore(), Messages: render(h.GetMessages())}
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
