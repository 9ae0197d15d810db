package e2e

import "testing"

// TestLateTurnCompletedDoesNotEndNextTurn: a runtime that answers a stop
// with stop.ack and then (as real runtimes do) a turn.completed for the
// stopped turn, and sends that turn.completed again while the next turn
// runs, must not end the next turn: a turn.completed whose in_response_to
// names a turn that is not running is ignored.
func TestLateTurnCompletedDoesNotEndNextTurn(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)
	msg := func(id string) map[string]any {
		return map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": id, "content": "work " + id}}
	}
	completed := func(inResponseTo string) map[string]any {
		return map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(),
			"payload": map[string]any{"session_id": sid, "in_response_to": inResponseTo}}
	}
	c.MustSend(msg("m1"))
	rt.Expect("user.message")
	c.Expect("user.message")
	rt.MustSend(map[string]any{"type": "turn.started", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "in_response_to": "m1"}})
	c.Expect("turn.started")
	c.MustSend(map[string]any{"type": "stop.request", "payload": map[string]any{"session_id": sid}})
	rt.Expect("stop.request")
	rt.MustSend(map[string]any{"type": "stop.ack", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "ok": true}})
	c.Expect("stop.ack")
	rt.MustSend(completed("m1")) // the stopped turn's own completion: no turn runs, stored
	c.Expect("turn.completed")

	c.MustSend(msg("m2"))
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "m2" {
		t.Fatalf("runtime got %v", um)
	}
	c.Expect("user.message")
	rt.MustSend(completed("m1")) // the duplicate, while m2 runs: ignored
	// Output after it shows the duplicate was handled (same partition, in order).
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "message_id": "o1", "seq": 1, "channel": "stdout", "content": "still on m2", "final": false}})
	if f := c.Expect("agent.output"); payload(f)["content"] != "still on m2" {
		t.Fatalf("client got %v (the duplicate turn.completed reached the transcript?)", f)
	}
	_, body, _ := h.rest("GET", "/v1/sessions/"+sid, clientToken, nil)
	if body["turn_active"] != true {
		t.Fatalf("the duplicate turn.completed ended turn m2: %v", body)
	}
	c.MustSend(msg("m3"))
	if e := c.Expect("error"); payload(e)["code"] != "turn_in_progress" {
		t.Fatalf("m3 while m2 runs: %v", e)
	}
	rt.MustSend(completed("m2")) // m2's own completion ends it
	c.Expect("turn.completed")
	c.MustSend(msg("m4"))
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "m4" {
		t.Fatalf("runtime got %v", um)
	}
}
