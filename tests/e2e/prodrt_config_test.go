package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// endpointView is GET /v1/endpoints' entry for id.
func (h *hub) endpointView(id string) map[string]any {
	h.t.Helper()
	_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
	for _, ep := range decodeList(h.t, raw) {
		if ep["id"] == id {
			return ep
		}
	}
	h.t.Fatalf("endpoint %s not listed: %s", id, raw)
	return nil
}

func maxTurns(v any) any {
	m, _ := v.(map[string]any)
	l, _ := m["limits"].(map[string]any)
	return l["max_turns"]
}

func configAck(ok bool, errText string) map[string]any {
	return map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-cfg", "ok": ok, "error": errText}}
}

func limits(n int) map[string]any { return map[string]any{"limits": map[string]any{"max_turns": n}} }

// TestRefusedOverrideIsNotResent: the hub keeps the override the runtime
// last accepted and re-sends only that after a hello; one the runtime
// refused is reported (502 and config_refused on the endpoint view) and
// never sent again; a pending override refused after the hello gives way
// to the accepted one; an accepted override refused on a re-send is
// dropped.
func TestRefusedOverrideIsNotResent(t *testing.T) {
	h := adminHub(t, nil)
	rt := h.connectRuntime(0, "rt-cfg", "ep-cfg")
	put := func(n int) <-chan callResult {
		return h.callAsync(1, "PUT", "/v1/endpoints/ep-cfg/config", adminToken, limits(n))
	}
	done := put(5)
	rt.Expect("endpoint.config_update")
	rt.MustSend(configAck(true, ""))
	if r := waitResult(t, done); r.status != http.StatusOK {
		t.Fatalf("PUT A: %d %v", r.status, r.body)
	}
	done = put(500)
	rt.Expect("endpoint.config_update")
	rt.MustSend(configAck(false, "max_turns must be at most 100"))
	r := waitResult(t, done)
	if r.status != http.StatusBadGateway || r.body["code"] != "runtime_error" || !strings.Contains(r.body["message"].(string), "max_turns must be at most 100") ||
		!strings.Contains(r.body["message"].(string), "last accepted override") {
		t.Fatalf("PUT B refused: %d %v", r.status, r.body)
	}
	ep := h.endpointView("ep-cfg")
	refused, _ := ep["config_refused"].(map[string]any)
	if maxTurns(ep["config_override"]) != 5.0 || maxTurns(refused) != 500.0 || refused["error"] != "max_turns must be at most 100" || ep["config_pending"] != nil {
		t.Fatalf("endpoint view after a refusal: %v", ep)
	}

	// Reconnect: the accepted override comes back, not the refused one.
	reconnect := func() *peer {
		_ = rt.Conn.Close()
		waitFor(t, "runtime offline", func() bool { return h.endpointView("ep-cfg")["online"] == false })
		p, ack := h.helloWith(0, "rt-cfg", runtimeToken, "ep-cfg")
		if ack["ok"] != true {
			t.Fatalf("hello: %v", ack)
		}
		return p
	}
	rt = reconnect()
	if upd := rt.Expect("endpoint.config_update"); maxTurns(payload(upd)) != 5.0 {
		t.Fatalf("after the hello the hub sent %v, want the accepted override (max_turns 5)", upd)
	}
	rt.Expect("runtime.token_refresh")
	rt.MustSend(configAck(true, ""))

	// Offline: C is pending; after the hello the runtime refuses it and
	// gets the accepted A again.
	_ = rt.Conn.Close()
	waitFor(t, "runtime offline", func() bool { return h.endpointView("ep-cfg")["online"] == false })
	if st, b := h.call(1, "PUT", "/v1/endpoints/ep-cfg/config", adminToken, limits(9)); st != http.StatusServiceUnavailable {
		t.Fatalf("PUT C offline: %d %v", st, b)
	}
	if ep := h.endpointView("ep-cfg"); maxTurns(ep["config_pending"]) != 9.0 || maxTurns(ep["config_override"]) != 5.0 {
		t.Fatalf("endpoint view with C pending: %v", ep)
	}
	rt, _ = h.helloWith(0, "rt-cfg", runtimeToken, "ep-cfg")
	if upd := rt.Expect("endpoint.config_update"); maxTurns(payload(upd)) != 9.0 {
		t.Fatalf("pending override not sent after the hello: %v", upd)
	}
	rt.Expect("runtime.token_refresh")
	rt.MustSend(configAck(false, "max_turns must be even"))
	if upd := rt.Expect("endpoint.config_update"); maxTurns(payload(upd)) != 5.0 {
		t.Fatalf("after refusing the pending override the runtime got %v, want the accepted one", upd)
	}
	waitFor(t, "C recorded as refused", func() bool {
		ep := h.endpointView("ep-cfg")
		return ep["config_pending"] == nil && maxTurns(ep["config_refused"]) == 9.0 && maxTurns(ep["config_override"]) == 5.0
	})
	// The runtime now refuses A itself: dropped, nothing is sent after the next hello.
	rt.MustSend(configAck(false, "limits are read-only now"))
	waitFor(t, "A dropped", func() bool {
		ep := h.endpointView("ep-cfg")
		return ep["config_override"] == nil && maxTurns(ep["config_refused"]) == 5.0
	})
	rt = reconnect()
	if f := rt.Next(); f["type"] != "runtime.token_refresh" {
		t.Fatalf("after the hello with no accepted override the hub sent %v", f)
	}
}
