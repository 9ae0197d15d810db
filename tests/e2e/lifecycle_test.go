package e2e

import (
	"net/http"
	"testing"
)

// TestIdleSessionIsReaped: no turn and no activity for SY_SESSION_IDLE →
// session.close{reason:"idle"} to the runtime, session.closed to clients,
// and later messages get session_closed.
func TestIdleSessionIsReaped(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: map[string]string{"SY_SESSION_IDLE": "1s", "SY_SWEEP_INTERVAL": "100ms"}})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)
	if sc := rt.Expect("session.close"); payload(sc)["reason"] != "idle" || payload(sc)["session_id"] != sid {
		t.Fatalf("runtime got %v", sc)
	}
	if sc := c.Expect("session.closed"); payload(sc)["reason"] != "idle" {
		t.Fatalf("client got %v", sc)
	}
	c.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "late", "content": "hello?"}})
	if e := c.Expect("error"); payload(e)["code"] != "session_closed" {
		t.Fatalf("got %v", e)
	}
	st, body, _ := h.rest("GET", "/v1/sessions/"+sid, clientToken, nil)
	if st != http.StatusOK || body["status"] != "closed" || body["close_reason"] != "idle" {
		t.Fatalf("GET session: %d %v", st, body)
	}
}

// TestRuntimeDisconnectIsVisible: when the runtime's socket goes, the
// session's subscribers get runtime.status{online:false}, a running turn
// ends, and the REST view says so.
func TestRuntimeDisconnectIsVisible(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)
	c.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "m1", "content": "long job"}})
	rt.Expect("user.message")
	c.Expect("user.message")
	_ = rt.Conn.Close()
	st := c.Expect("runtime.status")
	if p := payload(st); p["online"] != false || p["runtime_id"] != "r1" || p["session_id"] != sid || st["seq"] != 2.0 {
		t.Fatalf("runtime.status: %v", st)
	}
	_, body, _ := h.rest("GET", "/v1/sessions/"+sid, clientToken, nil)
	if body["turn_active"] != false || body["runtime_online"] != false || body["status"] != "active" {
		t.Fatalf("GET session after the runtime left: %v", body)
	}
	// It comes back (on another gateway): online again, and the session works.
	rt2 := h.connectRuntime(1, "r1", "ep1")
	if st := c.Expect("runtime.status"); payload(st)["online"] != true {
		t.Fatalf("runtime.status after hello: %v", st)
	}
	c.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "m2", "content": "still there?"}})
	if um := rt2.Expect("user.message"); payload(um)["message_id"] != "m2" {
		t.Fatalf("runtime got %v", um)
	}
}
