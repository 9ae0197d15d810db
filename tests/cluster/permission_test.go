package cluster

import (
	"testing"
	"time"
)

// TestPermissionTimeoutSurvivesPodDeath: the client's gateway and a
// session replica die after a permission.request; the survivors still deny
// it when its deadline passes, and the runtime hears exactly one answer.
func TestPermissionTimeoutSurvivesPodDeath(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 2, relays: 1,
		env: []string{"SY_PERMISSION_TIMEOUT=1500ms", "SY_SWEEP_INTERVAL=100ms"}})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	cl := c.subscribed(1, sid, 0, f)
	asked := time.Now()
	rt.MustSend(map[string]any{"type": "permission.request", "session_id": sid, "payload": map[string]any{
		"session_id": sid, "request_id": "req-1", "tool": "Bash", "description": "Execute: make deploy"}})
	cl.Expect("permission.request")
	c.gateways[1].kill()
	c.sessions[0].kill()

	got := rt.Expect("permission.response")
	if p := payload(got); p["request_id"] != "req-1" || p["approved"] != false {
		t.Fatalf("runtime got %v", got)
	}
	if el := time.Since(asked); el < 1500*time.Millisecond {
		t.Fatalf("denied after %s, before the 1.5 s deadline", el)
	}
	rt.MustSend(map[string]any{"type": "ping"})
	rt.Expect("pong") // one answer only
	f2 := newFollower()
	c.subscribed(0, sid, 0, f2)
	if len(f2.seqs) != 2 {
		t.Fatalf("transcript after the timeout has %d entries, want request + denial", len(f2.seqs))
	}
}
