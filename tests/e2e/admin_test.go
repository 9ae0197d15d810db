package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const adminToken = "ops-admin-secret"

// adminHub is a hub with an admin token and a second gateway: the tests
// put the runtime on gateway 0 and the admin caller on gateway 1.
func adminHub(t *testing.T, env map[string]string) *hub {
	e := map[string]string{"SY_ADMIN_TOKENS": adminToken + "=ops"}
	maps.Copy(e, env)
	return startHub(t, hubOptions{extraGateways: 1, env: e})
}

// call runs a REST call on gateway gw.
func (h *hub) call(gw int, method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.gateways[gw]+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

type callResult struct {
	status int
	body   map[string]any
}

// callAsync runs a REST call in the background (it waits on a runtime).
func (h *hub) callAsync(gw int, method, path, token string, body any) <-chan callResult {
	done := make(chan callResult, 1)
	go func() {
		st, b := h.call(gw, method, path, token, body)
		done <- callResult{st, b}
	}()
	return done
}

func waitResult(t *testing.T, ch <-chan callResult) callResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitLimit + 5*time.Second):
		t.Fatalf("REST call did not return")
	}
	return callResult{}
}

// helloWith dials /ws/runtime on gw, says hello with token and returns the
// socket and the hello.ack payload.
func (h *hub) helloWith(gw int, runtimeID, token, endpoint string) (*peer, map[string]any) {
	h.t.Helper()
	rt := dial(h.t, h.ws(gw, "/ws/runtime"))
	rt.MustSend(helloFrame(runtimeID, token, endpoint))
	return rt, payload(rt.Expect("hello.ack"))
}

func configBody() map[string]any {
	return map[string]any{
		"security": map[string]any{"permission_mode": "plan", "allowed_tools": []any{"Read"}},
		"limits":   map[string]any{"max_turns": 5, "max_output_bytes": 65536},
	}
}

func TestAdminEndpointConfigAcked(t *testing.T) {
	h := adminHub(t, nil)
	rt := h.connectRuntime(0, "rt-cfg", "ep-cfg")

	path := "/v1/endpoints/ep-cfg/config"
	if st, b := h.call(1, "PUT", path, "", configBody()); st != http.StatusUnauthorized || b["code"] != "auth_failed" {
		t.Fatalf("no token: %d %v", st, b)
	}
	if st, b := h.call(1, "PUT", path, clientToken, configBody()); st != http.StatusForbidden || b["code"] != "forbidden" {
		t.Fatalf("client token: %d %v", st, b)
	}
	if st, b := h.call(1, "PUT", path, adminToken, map[string]any{}); st != http.StatusBadRequest || b["code"] != "invalid_message" {
		t.Fatalf("empty body: %d %v", st, b)
	}
	if st, b := h.call(1, "PUT", "/v1/endpoints/nope/config", adminToken, configBody()); st != http.StatusNotFound || b["code"] != "endpoint_not_found" {
		t.Fatalf("unknown endpoint: %d %v", st, b)
	}

	done := h.callAsync(1, "PUT", path, adminToken, configBody())
	upd := rt.Expect("endpoint.config_update")
	p := payload(upd)
	sec, _ := p["security"].(map[string]any)
	lim, _ := p["limits"].(map[string]any)
	if p["endpoint_id"] != "ep-cfg" || sec["permission_mode"] != "plan" || lim["max_turns"] != 5.0 || lim["max_output_bytes"] != 65536.0 {
		t.Fatalf("runtime got %v", upd)
	}
	// Another runtime cannot acknowledge this endpoint's update.
	other := h.connectRuntime(1, "rt-other", "ep-other")
	other.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-cfg", "ok": false, "error": "not mine"}})
	if e := other.Expect("error"); payload(e)["code"] != "forbidden" {
		t.Fatalf("foreign config_ack: %v", e)
	}
	rt.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-cfg", "ok": true}})
	r := waitResult(t, done)
	if r.status != http.StatusOK || r.body["endpoint_id"] != "ep-cfg" || r.body["ok"] != true {
		t.Fatalf("PUT config: %d %v", r.status, r.body)
	}
}

func TestAdminEndpointConfigRuntimeRefuses(t *testing.T) {
	h := adminHub(t, nil)
	rt := h.connectRuntime(0, "rt-cfg", "ep-cfg")
	done := h.callAsync(1, "PUT", "/endpoints/ep-cfg/config", adminToken, map[string]any{"limits": map[string]any{"max_turns": 500}})
	upd := rt.Expect("endpoint.config_update")
	if _, has := payload(upd)["security"]; has {
		t.Fatalf("security sent although only limits were set: %v", upd)
	}
	rt.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(),
		"payload": map[string]any{"endpoint_id": "ep-cfg", "ok": false, "error": "max_turns must be at most 100"}})
	r := waitResult(t, done)
	if r.status != http.StatusBadGateway || r.body["code"] != "runtime_error" || !strings.Contains(r.body["message"].(string), "max_turns must be at most 100") {
		t.Fatalf("PUT config refused by the runtime: %d %v", r.status, r.body)
	}
}

func TestAdminEndpointConfigRuntimeSilent(t *testing.T) {
	h := adminHub(t, map[string]string{"SY_REQUEST_TIMEOUT": "1s"})
	rt := h.connectRuntime(0, "rt-cfg", "ep-cfg")
	start := time.Now()
	done := h.callAsync(1, "PUT", "/v1/endpoints/ep-cfg/config", adminToken, configBody())
	rt.Expect("endpoint.config_update") // and never answer
	r := waitResult(t, done)
	if r.status != http.StatusGatewayTimeout || r.body["code"] != "runtime_timeout" {
		t.Fatalf("PUT config to a silent runtime: %d %v", r.status, r.body)
	}
	if el := time.Since(start); el < time.Second || el > 5*time.Second {
		t.Fatalf("answered after %s, want about the 1s request timeout", el)
	}
}

func TestAdminEndpointConfigOfflineIsResentOnReconnect(t *testing.T) {
	h := adminHub(t, nil)
	rt := h.connectRuntime(0, "rt-cfg", "ep-cfg")
	_ = rt.Conn.Close()
	waitFor(t, "endpoint offline", func() bool {
		_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		eps := decodeList(t, raw)
		return len(eps) == 1 && eps[0]["online"] == false
	})
	st, b := h.call(1, "PUT", "/v1/endpoints/ep-cfg/config", adminToken, configBody())
	if st != http.StatusServiceUnavailable || b["code"] != "runtime_offline" || !strings.Contains(b["message"].(string), "stored") {
		t.Fatalf("PUT config while offline: %d %v", st, b)
	}

	// On reconnect (to any gateway): hello.ack, the stored override, then
	// the hub-issued token.
	rt2, ack := h.helloWith(1, "rt-cfg", runtimeToken, "ep-cfg")
	if ack["ok"] != true {
		t.Fatalf("hello: %v", ack)
	}
	upd := rt2.Expect("endpoint.config_update")
	p := payload(upd)
	if p["endpoint_id"] != "ep-cfg" || p["security"].(map[string]any)["permission_mode"] != "plan" || p["limits"].(map[string]any)["max_turns"] != 5.0 {
		t.Fatalf("re-sent override: %v", upd)
	}
	rt2.Expect("runtime.token_refresh")
	rt2.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-cfg", "ok": true}})

	// Online again: a new update goes through at once.
	done := h.callAsync(0, "PUT", "/v1/endpoints/ep-cfg/config", adminToken, map[string]any{"limits": map[string]any{"max_turns": 7}})
	if p := payload(rt2.Expect("endpoint.config_update")); p["limits"].(map[string]any)["max_turns"] != 7.0 {
		t.Fatalf("second update: %v", p)
	}
	rt2.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "ep-cfg", "ok": true}})
	if r := waitResult(t, done); r.status != http.StatusOK {
		t.Fatalf("PUT config: %d %v", r.status, r.body)
	}
}

func parseExpiry(t *testing.T, frame map[string]any) (string, time.Time) {
	t.Helper()
	p := payload(frame)
	tok, _ := p["token"].(string)
	exp, err := time.Parse(time.RFC3339Nano, p["expires_at"].(string))
	if tok == "" || err != nil {
		t.Fatalf("runtime.token_refresh: %v (%v)", frame, err)
	}
	return tok, exp
}

func TestRuntimeTokenRefresh(t *testing.T) {
	const grace = time.Second
	h := adminHub(t, map[string]string{"SY_RUNTIME_TOKEN_TTL": "3s", "SY_TOKEN_REFRESH_BEFORE": "1s", "SY_RUNTIME_TOKEN_GRACE": "1s"})
	rt, ack := h.helloWith(0, "rt-tok", runtimeToken, "ep-tok")
	if ack["ok"] != true {
		t.Fatalf("hello: %v", ack)
	}
	// Right after the ack, the pre-shared token is replaced by a hub token.
	tok1, exp1 := parseExpiry(t, rt.Expect("runtime.token_refresh"))
	if life := time.Until(exp1); life < 2*time.Second || life > 3*time.Second+500*time.Millisecond {
		t.Fatalf("first hub token lives %s, want about 3s", life)
	}
	// And again before it expires (1s ahead).
	tok2, exp2 := parseExpiry(t, rt.Expect("runtime.token_refresh"))
	got2 := time.Now()
	if !got2.Before(exp1) || tok2 == tok1 || !exp2.After(exp1) {
		t.Fatalf("second refresh at %s (first token expires %s), same token %v, expiry %s", got2, exp1, tok2 == tok1, exp2)
	}
	// Within the grace period the previous token still works.
	old, ack := h.helloWith(1, "rt-tok", tok1, "ep-tok")
	if ack["ok"] != true {
		t.Fatalf("hello with the previous token within the grace period: %v", ack)
	}
	_ = old.Conn.Close()
	// The new token works for a fresh hello (no immediate refresh: it is a hub token).
	rt2, ack := h.helloWith(1, "rt-tok", tok2, "ep-tok")
	if ack["ok"] != true {
		t.Fatalf("hello with the refreshed token: %v", ack)
	}
	// After the grace period the previous token is refused.
	deadline := exp1
	if d := got2.Add(grace); d.After(deadline) {
		deadline = d
	}
	time.Sleep(time.Until(deadline) + 50*time.Millisecond)
	bad, ack := h.helloWith(0, "rt-tok", tok1, "ep-tok")
	if ack["ok"] != false || !strings.Contains(ack["error"].(string), "auth_failed") {
		t.Fatalf("hello with the previous token after the grace period: %v", ack)
	}
	if code := bad.CloseCode(); code != 1008 {
		t.Fatalf("close %d, want 1008", code)
	}
	// A token for another runtime id is refused too.
	if _, ack := h.helloWith(0, "rt-someone-else", tok2, "ep-x"); ack["ok"] != false {
		t.Fatalf("hub token used for another runtime id: %v", ack)
	}
	// The socket that said hello with tok2 gets its own refresh before tok2 expires.
	if _, exp3 := parseExpiry(t, rt2.Expect("runtime.token_refresh")); !time.Now().Before(exp2) || !exp3.After(exp2) {
		t.Fatalf("refresh of the second socket came late: now %s, token expired %s", time.Now(), exp2)
	}
}

// captureStderr collects what the hub logs (every service logs to
// stderr) while still showing it; the returned function stops capturing.
func captureStderr(t *testing.T) func() string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	var buf bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(io.MultiWriter(&buf, orig), r)
	}()
	var once sync.Once
	return func() string {
		once.Do(func() {
			os.Stderr = orig
			_ = w.Close()
			wg.Wait()
			_ = r.Close()
		})
		return buf.String()
	}
}

func TestRuntimeTokenRevocation(t *testing.T) {
	var secrets []string // every token the test saw
	logs := captureStderr(t)
	var h *hub
	t.Cleanup(func() { // after the hub stopped (cleanups run last-in first-out)
		out := logs()
		if !strings.Contains(out, "runtime token refused") {
			t.Errorf("log capture caught nothing (%d bytes)", len(out))
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("a runtime token appears in the hub's logs")
			}
		}
		for _, sp := range h.spans.GetSpans() {
			for _, a := range sp.Attributes {
				for _, s := range secrets {
					if strings.Contains(a.Value.String(), s) {
						t.Errorf("a runtime token appears in span %s attribute %s", sp.Name, a.Key)
					}
				}
			}
		}
	})
	h = adminHub(t, nil)
	secrets = append(secrets, runtimeToken)

	rt, ack := h.helloWith(0, "rt-rev", runtimeToken, "ep-rev")
	if ack["ok"] != true {
		t.Fatalf("hello: %v", ack)
	}
	hubTok, _ := parseExpiry(t, rt.Expect("runtime.token_refresh"))
	secrets = append(secrets, hubTok)

	if st, b := h.call(1, "DELETE", "/v1/runtimes/rt-rev/tokens", clientToken, nil); st != http.StatusForbidden || b["code"] != "forbidden" {
		t.Fatalf("revoke with a client token: %d %v", st, b)
	}
	st, b := h.call(1, "DELETE", "/v1/runtimes/rt-rev/tokens", adminToken, nil)
	if st != http.StatusOK || b["runtime_id"] != "rt-rev" || b["disconnected"] != true || b["revoked_at"] == "" {
		t.Fatalf("revoke: %d %v", st, b)
	}
	if e := rt.Expect("error"); payload(e)["code"] != "auth_failed" {
		t.Fatalf("revoked runtime got %v", e)
	}
	if code := rt.CloseCode(); code != 1008 {
		t.Fatalf("revoked runtime closed with %d, want 1008", code)
	}
	// Neither the pre-shared token nor the hub token opens this runtime id now.
	for _, tok := range []string{runtimeToken, hubTok} {
		c, ack := h.helloWith(0, "rt-rev", tok, "ep-rev")
		if ack["ok"] != false || !strings.Contains(ack["error"].(string), "revoked") && !strings.Contains(ack["error"].(string), "invalid") {
			t.Fatalf("hello after revocation: %v", ack)
		}
		if code := c.CloseCode(); code != 1008 {
			t.Fatalf("close %d, want 1008", code)
		}
	}
	// Other runtime ids keep their pre-shared token.
	h.connectRuntime(0, "rt-unrelated", "ep-unrelated")

	if st, b := h.call(1, "POST", "/v1/runtimes/rt-rev/tokens", clientToken, nil); st != http.StatusForbidden {
		t.Fatalf("issue with a client token: %d %v", st, b)
	}
	if st, _ := h.call(1, "POST", "/v1/runtimes/rt-rev/tokens", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("issue without a token: %d", st)
	}
	st, b = h.call(1, "POST", "/v1/runtimes/rt-rev/tokens", adminToken, nil)
	newTok, _ := b["token"].(string)
	if st != http.StatusCreated || newTok == "" || b["runtime_id"] != "rt-rev" || b["expires_at"] == nil {
		t.Fatalf("issue: %d %v", st, b)
	}
	secrets = append(secrets, newTok)
	if _, ack := h.helloWith(0, "rt-rev", newTok, "ep-rev"); ack["ok"] != true {
		t.Fatalf("hello with the admin-issued token: %v", ack)
	}
	// Issuing lifted the revocation: the pre-shared token works again.
	h.connectRuntime(1, "rt-rev", "ep-rev")
}
