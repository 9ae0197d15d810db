package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// agentsHello is runtime.hello as the later Amurg runtime revision sends it.
func agentsHello(runtimeID, agent string) map[string]any {
	return map[string]any{"type": "runtime.hello", "ts": ts(), "payload": map[string]any{
		"runtime_id": runtimeID, "token": runtimeToken, "org_id": "default",
		"agents": []any{map[string]any{"id": agent, "profile": "claude-code", "name": "Claude Code",
			"caps": map[string]any{"native_session_ids": true, "turn_completion": true, "resume_attach": true, "exec_model": "interactive"}}},
	}}
}

// TestAgentsRevisionRuntime: a runtime of the later revision ("agents",
// "agent_id", agent.config_*) registers its agents, is answered in its own
// revision, and the endpoint view says which revision it speaks; a
// document-revision runtime on the same hub keeps the document's frames.
func TestAgentsRevisionRuntime(t *testing.T) {
	h := adminHub(t, nil)
	rt := dial(t, h.ws(0, "/ws/runtime"))
	rt.MustSend(agentsHello("r-new", "ag1"))
	if ack := rt.Expect("hello.ack"); payload(ack)["ok"] != true || payload(ack)["warnings"] != nil {
		t.Fatalf("hello.ack: %v", ack)
	}
	rt.Expect("runtime.token_refresh")
	old := h.connectRuntime(1, "r-old", "ep-old")
	if ep := h.endpointView("ag1"); ep["online"] != true || ep["protocol"] != "agents" || ep["runtime_id"] != "r-new" {
		t.Fatalf("agent ag1: %v", ep)
	}
	if ep := h.endpointView("ep-old"); ep["protocol"] != "endpoints" {
		t.Fatalf("endpoint ep-old: %v", ep)
	}

	// session.create names the agent as agent_id.
	done := make(chan int, 1)
	go func() {
		st, _, _ := h.rest("POST", "/v1/sessions", clientToken, map[string]any{"endpoint_id": "ag1"})
		done <- st
	}()
	create := payload(rt.Expect("session.create"))
	if create["agent_id"] != "ag1" || create["endpoint_id"] != nil || create["user_id"] != "alice" {
		t.Fatalf("session.create to an agents runtime: %v", create)
	}
	sid := create["session_id"].(string)
	rt.MustSend(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "ok": true}})
	if st := <-done; st != http.StatusCreated {
		t.Fatalf("POST /v1/sessions: %d", st)
	}

	// Config overrides travel as agent.config_update / agent.config_ack.
	put := h.callAsync(1, "PUT", "/v1/endpoints/ag1/config", adminToken, limits(3))
	upd := rt.Expect("agent.config_update")
	if p := payload(upd); p["agent_id"] != "ag1" || p["endpoint_id"] != nil || maxTurns(p) != 3.0 {
		t.Fatalf("agent.config_update: %v", upd)
	}
	rt.MustSend(map[string]any{"type": "agent.config_ack", "ts": ts(), "payload": map[string]any{"agent_id": "ag1", "ok": true}})
	if r := waitResult(t, put); r.status != http.StatusOK {
		t.Fatalf("PUT config: %d %v", r.status, r.body)
	}
	// The document's runtime still gets the document's names.
	put = h.callAsync(1, "PUT", "/v1/endpoints/ep-old/config", adminToken, limits(4))
	if p := payload(old.Expect("endpoint.config_update")); p["endpoint_id"] != "ep-old" || p["agent_id"] != nil {
		t.Fatalf("endpoint.config_update: %v", p)
	}
	old.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-old", "ok": true}})
	if r := waitResult(t, put); r.status != http.StatusOK {
		t.Fatalf("PUT config: %d %v", r.status, r.body)
	}
}

// TestHelloRegisteringNothingIsWarned: a hello with neither "endpoints"
// nor "agents" (or empty ones) is accepted, but hello.ack says why nothing
// can be used.
func TestHelloRegisteringNothingIsWarned(t *testing.T) {
	h := startHub(t, hubOptions{})
	for _, p := range []map[string]any{
		{"runtime_id": "r1", "token": runtimeToken},
		{"runtime_id": "r2", "token": runtimeToken, "agents": []any{}},
		{"runtime_id": "r3", "token": runtimeToken, "workers": []any{map[string]any{"id": "w1"}}},
	} {
		rt := dial(t, h.ws(0, "/ws/runtime"))
		rt.MustSend(map[string]any{"type": "runtime.hello", "ts": ts(), "payload": p})
		ack := payload(rt.Expect("hello.ack"))
		w, _ := ack["warnings"].([]any)
		if ack["ok"] != true || len(w) != 1 || !strings.Contains(w[0].(string), "no endpoint registered") {
			t.Fatalf("hello %v: hello.ack %v", p, ack)
		}
	}
}
