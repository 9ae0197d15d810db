package cluster

import (
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
)

// TestChatQueueSurvivesSessionReplicas: chat follow-ups in queue mode are
// kept in the session record, not in a replica's memory. With two
// messages queued behind a running turn every session replica is killed
// (SIGKILL); the turn ends while none runs; once one is back, the queued
// messages run as their own turns, in order, each its own stream.
func TestChatQueueSurvivesSessionReplicas(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 2, relays: 1,
		env: []string{"SY_CHAT_DEFAULT_ENDPOINT=ep1", "SY_CHAT_FOLLOWUP_MODE=queue"}})
	cat := testenv.Catalog(t, c.natsURL())
	rt := c.connectRuntime(0, "r1", "ep1")
	chat := dial(t, c.ws(1, "/ws/chat?token="+clientToken))
	chat.MustSend(map[string]any{"type": "message", "text": "first"})
	create := rt.Expect("session.create")
	sid := payload(create)["session_id"].(string)
	rt.MustSend(map[string]any{"type": "session.created", "session_id": sid, "payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
	um := rt.Expect("user.message")
	send := func(typ string, p map[string]any) {
		p["session_id"] = sid
		rt.MustSend(map[string]any{"type": typ, "session_id": sid, "payload": p})
	}
	send("turn.started", map[string]any{"in_response_to": payload(um)["message_id"]})
	if m := chat.Expect("stream_start"); m["session_id"] != sid {
		t.Fatalf("stream_start %v", m)
	}
	chat.MustSend(map[string]any{"type": "message", "text": "q1"})
	chat.MustSend(map[string]any{"type": "message", "text": "q2"})
	waitFor(t, "two queued messages in the session record", func() bool { return queued(t, cat, sid) == 2 })

	for _, s := range c.sessions {
		s.kill()
	}
	send("turn.completed", map[string]any{"in_response_to": payload(um)["message_id"], "exit_code": 0})
	c.restart(c.sessions[1]) // the turn.completed waited in SY_IN
	if m := chat.Expect("stream_end"); m["session_id"] != sid {
		t.Fatalf("stream_end %v", m)
	}
	for _, text := range []string{"q1", "q2"} {
		m := rt.Expect("user.message")
		if payload(m)["content"] != text || payload(m)["followup"] != nil {
			t.Fatalf("runtime got %v, want %q as a new turn", m, text)
		}
		send("turn.started", map[string]any{"in_response_to": payload(m)["message_id"]})
		send("turn.completed", map[string]any{"in_response_to": payload(m)["message_id"], "exit_code": 0})
		if s := chat.Expect("stream_start"); s["session_id"] != sid {
			t.Fatalf("stream_start %v", s)
		}
		chat.Expect("stream_end")
	}
	// The record is updated right after the transcript append that ended the turn.
	waitFor(t, "an empty queue", func() bool { return queued(t, cat, sid) == 0 })
}

// queued is the length of the session record's follow-up queue.
func queued(t *testing.T, cat *catalog.Catalog, sid string) int {
	t.Helper()
	info, _, err := cat.Session(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return len(info.GetQueued())
}
