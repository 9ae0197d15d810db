package cluster

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRuntimeGatewaySIGKILLPresence: the gateway holding a runtime's
// socket is killed with SIGKILL, so nobody announces the runtime offline.
// Within the ownership TTL (plus one heartbeat and a sweep) the session's
// subscribers get runtime.status{online:false}, GET /sessions/{id} says
// runtime_online:false like GET /endpoints; when the runtime says hello
// on another gateway they get runtime.status{online:true} and the view
// follows. Two session replicas sweep: each change reaches the transcript
// once.
func TestRuntimeGatewaySIGKILLPresence(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 2, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(1, rt, "ep1")
	f := newFollower()
	cl := c.subscribed(1, sid, 0, f)
	if v := c.sessionView(1, sid); v["runtime_online"] != true {
		t.Fatalf("before the kill: %v", v)
	}
	c.gateways[0].kill()
	killed := time.Now()
	st := cl.NextWithin(10 * time.Second)
	if st["type"] != "runtime.status" || payload(st)["online"] != false || payload(st)["runtime_id"] != "r1" || payload(st)["session_id"] != sid {
		t.Fatalf("after SIGKILL of the runtime's gateway: %v", st)
	}
	f.take(st)
	// TTL 1.5 s, heartbeat 250 ms, sweep 1 s: well under 5 s.
	if el := time.Since(killed); el > 5*time.Second {
		t.Fatalf("runtime.status offline came %s after the kill (TTL 1.5s)", el)
	}
	if v := c.sessionView(1, sid); v["runtime_online"] != false {
		t.Fatalf("GET session after runtime.status offline: %v", v)
	}
	if eps := c.getJSON(1, "/v1/endpoints"); !strings.Contains(eps, `"online":false`) {
		t.Fatalf("GET /endpoints: %s", eps)
	}
	_ = c.connectRuntime(1, "r1", "ep1")
	st = cl.Expect("runtime.status")
	if payload(st)["online"] != true {
		t.Fatalf("after the runtime's hello elsewhere: %v", st)
	}
	f.take(st)
	if v := c.sessionView(1, sid); v["runtime_online"] != true {
		t.Fatalf("GET session after the hello: %v", v)
	}
	// Exactly two presence frames (seq 1 and 2 of this session), none twice.
	cl.MustSend(subscribeFrame(sid, 0))
	h := cl.ExpectSkipping("history.response", "runtime.status")
	var types []string
	for _, m := range payload(h)["messages"].([]any) {
		types = append(types, m.(map[string]any)["type"].(string))
	}
	if len(types) != 2 || types[0] != "runtime.status" || types[1] != "runtime.status" {
		t.Fatalf("transcript: %v", types)
	}
}

func (c *cluster) sessionView(gw int, sid string) map[string]any {
	c.t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(c.getJSON(gw, "/v1/sessions/"+sid)), &v); err != nil {
		c.t.Fatal(err)
	}
	return v
}
