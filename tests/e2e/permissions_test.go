package e2e

import (
	"testing"
)

func permissionRequest(sid, req, tool string) map[string]any {
	return map[string]any{"type": "permission.request", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "request_id": req, "tool": tool, "description": "Execute: rm -rf /tmp/build", "resource": "/tmp/build"}}
}

func permissionResponse(sid, req string, approved, always bool) map[string]any {
	return map[string]any{"type": "permission.response", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "request_id": req, "approved": approved, "always_allow": always}}
}

// TestPermissionFirstAnswerWins: the request reaches every subscriber (on
// another gateway than the runtime); the first answer goes to the runtime
// once; a later answer is refused with permission_resolved.
func TestPermissionFirstAnswerWins(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	a, b := h.connectClient(1, clientToken), h.connectClient(1, clientToken)
	subscribe(a, sid, 0)
	subscribe(b, sid, 0)

	rt.MustSend(permissionRequest(sid, "req-1", "Bash"))
	for _, c := range []*peer{a, b} {
		pr := c.Expect("permission.request")
		p := payload(pr)
		if p["request_id"] != "req-1" || p["tool"] != "Bash" || p["description"] != "Execute: rm -rf /tmp/build" || p["resource"] != "/tmp/build" || pr["seq"] != 1.0 {
			t.Fatalf("permission.request: %v", pr)
		}
	}
	a.MustSend(permissionResponse(sid, "req-1", true, false))
	got := rt.Expect("permission.response")
	if p := payload(got); p["request_id"] != "req-1" || p["approved"] != true || p["always_allow"] != false || p["session_id"] != sid {
		t.Fatalf("runtime got %v", got)
	}
	if _, has := payload(got)["reason"]; has {
		t.Fatalf("runtimes get the document's fields only: %v", got)
	}
	for _, c := range []*peer{a, b} {
		if pr := c.Expect("permission.response"); payload(pr)["approved"] != true || payload(pr)["request_id"] != "req-1" {
			t.Fatalf("subscribers learn the answer: %v", pr)
		}
	}
	b.MustSend(permissionResponse(sid, "req-1", false, false))
	if e := b.Expect("error"); payload(e)["code"] != "permission_resolved" {
		t.Fatalf("late answer: %v", e)
	}
	b.MustSend(permissionResponse(sid, "nope", true, false))
	if e := b.Expect("error"); payload(e)["code"] != "permission_not_found" {
		t.Fatalf("unknown request: %v", e)
	}
	rt.MustSend(map[string]any{"type": "ping"})
	rt.Expect("pong") // the runtime got exactly one answer
}

// TestPermissionTimeoutDenies: nobody answers, the hub denies it itself and
// tells the clients.
func TestPermissionTimeoutDenies(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: map[string]string{"SY_PERMISSION_TIMEOUT": "500ms", "SY_SWEEP_INTERVAL": "100ms"}})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)
	rt.MustSend(permissionRequest(sid, "req-t", "Write"))
	c.Expect("permission.request")
	if got := rt.Expect("permission.response"); payload(got)["approved"] != false || payload(got)["request_id"] != "req-t" {
		t.Fatalf("runtime got %v", got)
	}
	if pr := c.Expect("permission.response"); payload(pr)["approved"] != false || payload(pr)["reason"] != "timeout" {
		t.Fatalf("client got %v", pr)
	}
	c.MustSend(permissionResponse(sid, "req-t", true, false))
	if e := c.Expect("error"); payload(e)["code"] != "permission_resolved" {
		t.Fatalf("answer after the timeout: %v", e)
	}
}

// TestPermissionAlwaysAllow: after "always allow" for a tool, the hub
// answers that tool's later requests by itself.
func TestPermissionAlwaysAllow(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)
	rt.MustSend(permissionRequest(sid, "req-a", "Bash"))
	c.Expect("permission.request")
	c.MustSend(permissionResponse(sid, "req-a", true, true))
	if got := rt.Expect("permission.response"); payload(got)["always_allow"] != true {
		t.Fatalf("runtime got %v", got)
	}
	c.Expect("permission.response")

	rt.MustSend(permissionRequest(sid, "req-b", "Bash"))
	got := rt.Expect("permission.response")
	if p := payload(got); p["request_id"] != "req-b" || p["approved"] != true || p["always_allow"] != true {
		t.Fatalf("hub's own answer: %v", got)
	}
	c.Expect("permission.request")
	if pr := c.Expect("permission.response"); payload(pr)["reason"] != "always_allow" {
		t.Fatalf("client got %v", pr)
	}
	// Another tool still asks the user.
	rt.MustSend(permissionRequest(sid, "req-c", "Write"))
	c.Expect("permission.request")
	rt.MustSend(map[string]any{"type": "ping"})
	rt.Expect("pong")
}

// TestReconnectingClientLearnsPendingRequests: history.response lists the
// requests still waiting, even when they are before after_seq.
func TestReconnectingClientLearnsPendingRequests(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)
	rt.MustSend(permissionRequest(sid, "req-p", "Bash"))
	c.Expect("permission.request")
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{"session_id": sid, "seq": 1, "channel": "stdout", "content": "waiting", "final": false}})
	c.Expect("agent.output")

	c2 := h.connectClient(0, clientToken)
	c2.MustSend(map[string]any{"type": "client.subscribe", "payload": map[string]any{"session_id": sid, "after_seq": 2}})
	hr := payload(c2.Expect("history.response"))
	pending, _ := hr["pending_permissions"].([]any)
	if len(pending) != 1 {
		t.Fatalf("pending_permissions: %v", hr)
	}
	pr := pending[0].(map[string]any)
	if pr["type"] != "permission.request" || payload(pr)["request_id"] != "req-p" || pr["seq"] != 1.0 {
		t.Fatalf("pending request: %v", pr)
	}
	c2.MustSend(permissionResponse(sid, "req-p", false, false))
	if got := rt.Expect("permission.response"); payload(got)["approved"] != false {
		t.Fatalf("runtime got %v", got)
	}
	c3 := h.connectClient(1, clientToken)
	c3.MustSend(map[string]any{"type": "client.subscribe", "payload": map[string]any{"session_id": sid, "after_seq": 0}})
	if hr := payload(c3.Expect("history.response")); hr["pending_permissions"] != nil {
		t.Fatalf("answered request still pending: %v", hr)
	}
}
