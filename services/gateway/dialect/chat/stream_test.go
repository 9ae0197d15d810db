package chat

import (
	"encoding/json"
	"testing"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/chat"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// frames records what a stream sends, as chat frame types.
type frames []string

func (f *frames) Send(fr edge.Frame) error {
	var m struct{ Type string }
	if err := json.Unmarshal(fr.Data, &m); err != nil {
		return err
	}
	*f = append(*f, m.Type)
	return nil
}

func turnOf(sid string) []*syv1.Envelope {
	return []*syv1.Envelope{
		{Type: kind.UserMessage, SessionId: sid, Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: "m1", Content: "hi"}}},
		{Type: kind.TurnStarted, SessionId: sid, Body: &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{SessionId: sid}}},
		{Type: kind.AgentOutput, SessionId: sid, Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: sid, Content: "out"}}},
		{Type: kind.TurnCompleted, SessionId: sid, Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: sid}}},
	}
}

func feed(sm *stream, c sender, envs ...*syv1.Envelope) {
	for _, env := range envs {
		b, _ := codec.Render(env)
		sm.step(c, env, b)
	}
}

// TestReplayedTurnThatEnded: a socket joins a turn its session record
// still names running, but the history it replays holds the turn's end
// (the record is written after the transcript): it gets no stream, as it
// would had it joined after the record changed. A turn still running when
// the history ends is sent whole, before the first live event.
func TestReplayedTurnThatEnded(t *testing.T) {
	turn := turnOf("s1")
	var got frames
	sm := &stream{session: "s1"}
	sm.hold()
	feed(sm, &got, turn...)
	sm.release(&got)
	if len(got) != 0 {
		t.Fatalf("a turn that ended in the history sent %v", got)
	}

	got = nil
	sm = &stream{session: "s1"}
	sm.hold()
	feed(sm, &got, turn[:3]...)
	if len(got) != 0 {
		t.Fatalf("frames sent while the history is read: %v", got)
	}
	sm.release(&got)
	feed(sm, &got, turn[3])
	want := []string{"stream_start", "text_delta", "stream_end"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("running turn replayed as %v, want %v", got, want)
	}

	// The history ends one turn and starts the next (a queued follow-up):
	// only the running one is sent.
	got = nil
	sm = &stream{session: "s1"}
	sm.hold()
	feed(sm, &got, turn...)
	feed(sm, &got, turn[:2]...)
	sm.release(&got)
	if len(got) != 1 || got[0] != "stream_start" {
		t.Fatalf("history of an ended and a running turn sent %v, want [stream_start]", got)
	}
}
