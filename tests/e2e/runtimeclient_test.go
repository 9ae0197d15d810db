package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

// TestRuntimeHelloAndEndpoints: hello.ack ok:true, the endpoint is listed
// online, and goes offline when the runtime disconnects.
func TestRuntimeHelloAndEndpoints(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	st, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
	if st != http.StatusOK {
		t.Fatalf("GET /v1/endpoints: %d %s", st, raw)
	}
	eps := decodeList(t, raw)
	if len(eps) != 1 || eps[0]["id"] != "claude-code-prod" || eps[0]["online"] != true || eps[0]["runtime_id"] != "prod-runtime-01" {
		t.Fatalf("endpoints: %s", raw)
	}
	if eps[0]["caps"].(map[string]any)["exec_model"] != "interactive" || eps[0]["tags"].(map[string]any)["env"] != "production" {
		t.Fatalf("endpoint metadata not kept: %s", raw)
	}
	_ = rt.Conn.Close()
	waitFor(t, "endpoint offline", func() bool {
		_, _, raw := h.rest("GET", "/endpoints", clientToken, nil)
		eps := decodeList(t, raw)
		return len(eps) == 1 && eps[0]["online"] == false
	})
}

func TestRuntimeBadTokenIsRefusedAndClosed(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := dial(t, h.ws(0, "/ws/runtime"))
	rt.MustSend(helloFrame("r1", "wrong-token", "ep"))
	ack := rt.Expect("hello.ack")
	p := payload(ack)
	if p["ok"] != false || p["error"] == "" || p["error"] == nil {
		t.Fatalf("want hello.ack ok:false with an error, got %v", ack)
	}
	if code := rt.CloseCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
}

func TestRuntimeMustSayHelloFirst(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := dial(t, h.ws(0, "/ws/runtime"))
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": "s1", "payload": map[string]any{"session_id": "s1"}})
	e := rt.Expect("error")
	if payload(e)["code"] != "auth_failed" {
		t.Fatalf("got %v", e)
	}
	if code := rt.CloseCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
}

// TestSessionTurnEndToEnd walks the document's session lifecycle diagram.
func TestSessionTurnEndToEnd(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)

	c := h.connectClient(1, clientToken) // the client is on another gateway pod
	if hist := subscribe(c, sid, 0); len(hist) != 0 {
		t.Fatalf("new session has history: %v", hist)
	}
	c.MustSend(map[string]any{"type": "user.message", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "message_id": "msg-1", "content": "List all files in the current directory"}})

	um := rt.Expect("user.message")
	if um["session_id"] != sid || payload(um)["message_id"] != "msg-1" || payload(um)["content"] != "List all files in the current directory" {
		t.Fatalf("runtime got %v", um)
	}
	echo := c.Expect("user.message")
	if echo["seq"] != 1.0 || payload(echo)["message_id"] != "msg-1" {
		t.Fatalf("client transcript echo: %v", echo)
	}

	rt.MustSend(map[string]any{"type": "turn.started", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "in_response_to": "msg-1"}})
	for i, chunk := range []string{"file1.txt  ", "file2.txt  ", "src/"} {
		rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "message_id": "out-" + chunk, "seq": i + 1, "channel": "stdout", "content": chunk, "final": i == 2}})
	}
	var outputs []map[string]any
	for len(outputs) < 4 {
		outputs = append(outputs, c.Next())
	}
	if started := outputs[0]; started["type"] != "turn.started" || started["seq"] != 2.0 || payload(started)["in_response_to"] != "msg-1" {
		t.Fatalf("turn.started: %v", started)
	}
	for i, o := range outputs[1:] {
		p := payload(o)
		want := float64(3 + i)
		if o["type"] != "agent.output" || o["seq"] != want || p["seq"] != want || p["channel"] != "stdout" || p["session_id"] != sid || p["final"] != (i == 2) {
			t.Fatalf("agent.output %d: %v", i, o)
		}
	}
	// A second message while the turn runs is refused.
	c.MustSend(map[string]any{"type": "user.message", "session_id": sid, "payload": map[string]any{"session_id": sid, "message_id": "msg-2", "content": "again"}})
	if e := c.Expect("error"); payload(e)["code"] != "turn_in_progress" || payload(e)["message"] == "" || e["session_id"] != sid {
		t.Fatalf("error: %v", e)
	}
	rt.MustSend(map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "in_response_to": "msg-1", "exit_code": 0}})
	done := c.Expect("turn.completed")
	if done["seq"] != 6.0 || payload(done)["exit_code"] != 0.0 {
		t.Fatalf("turn.completed: %v", done)
	}

	// The next turn is accepted; a resend of the same message_id is not
	// forwarded twice.
	msg3 := map[string]any{"type": "user.message", "session_id": sid, "payload": map[string]any{"session_id": sid, "message_id": "msg-3", "content": "pwd"}}
	c.MustSend(msg3)
	c.MustSend(msg3)
	if got := rt.Expect("user.message"); payload(got)["message_id"] != "msg-3" {
		t.Fatalf("runtime got %v", got)
	}
	rt.MustSend(map[string]any{"type": "turn.completed", "session_id": sid, "payload": map[string]any{"session_id": sid, "in_response_to": "msg-3"}})
	c.Expect("user.message")
	tc := c.Expect("turn.completed")
	if _, has := payload(tc)["exit_code"]; has {
		t.Fatalf("exit_code is optional and was not sent: %v", tc)
	}
	rt.MustSend(map[string]any{"type": "ping", "ts": ts()})
	rt.Expect("pong") // and no second user.message arrived before it

	// A late subscriber on the first gateway replays after_seq 3.
	c2 := h.connectClient(0, clientToken)
	hist := subscribe(c2, sid, 3)
	if len(hist) != 5 || hist[0]["seq"] != 4.0 || hist[4]["seq"] != 8.0 || hist[4]["type"] != "turn.completed" {
		t.Fatalf("history after 3: %v", hist)
	}
}

func TestStopAndClose(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)

	c.MustSend(map[string]any{"type": "stop.request", "session_id": sid, "payload": map[string]any{"session_id": sid}})
	if sr := rt.Expect("stop.request"); payload(sr)["session_id"] != sid {
		t.Fatalf("stop.request: %v", sr)
	}
	rt.MustSend(map[string]any{"type": "stop.ack", "session_id": sid, "payload": map[string]any{"session_id": sid, "ok": true}})
	if sa := c.Expect("stop.ack"); payload(sa)["ok"] != true {
		t.Fatalf("stop.ack: %v", sa)
	}

	c.MustSend(map[string]any{"type": "session.close", "session_id": sid, "payload": map[string]any{"session_id": sid, "reason": "user_requested"}})
	if sc := rt.Expect("session.close"); payload(sc)["reason"] != "user_requested" {
		t.Fatalf("runtime session.close: %v", sc)
	}
	if sc := c.Expect("session.closed"); payload(sc)["reason"] != "user_requested" || sc["session_id"] != sid {
		t.Fatalf("client session.closed: %v", sc)
	}
	c.MustSend(map[string]any{"type": "user.message", "session_id": sid, "payload": map[string]any{"session_id": sid, "message_id": "late", "content": "x"}})
	if e := c.Expect("error"); payload(e)["code"] != "session_closed" {
		t.Fatalf("message to a closed session: %v", e)
	}

	// A runtime-initiated close reaches clients too.
	sid2 := h.createSession(rt, "ep1", clientToken)
	subscribe(c, sid2, 0)
	rt.MustSend(map[string]any{"type": "session.close", "session_id": sid2, "payload": map[string]any{"session_id": sid2, "reason": "agent_exited"}})
	if sc := c.Expect("session.closed"); sc["session_id"] != sid2 || payload(sc)["reason"] != "agent_exited" {
		t.Fatalf("session.closed from runtime: %v", sc)
	}
}

func TestSessionCreateErrors(t *testing.T) {
	h := startHub(t, hubOptions{env: map[string]string{"SY_REQUEST_TIMEOUT": "1s"}})
	if st, body, _ := h.rest("POST", "/v1/sessions", clientToken, map[string]any{"endpoint_id": "nope"}); st != 404 || body["code"] != "endpoint_not_found" {
		t.Fatalf("unknown endpoint: %d %v", st, body)
	}
	if st, body, _ := h.rest("POST", "/v1/sessions", "bad", map[string]any{"endpoint_id": "x"}); st != 401 || body["code"] != "auth_failed" {
		t.Fatalf("bad token: %d %v", st, body)
	}
	// A runtime that never answers session.create: 504 after the timeout.
	silent := h.connectRuntime(0, "silent", "ep-silent")
	start := time.Now()
	st, body, _ := h.rest("POST", "/sessions", clientToken, map[string]any{"endpoint_id": "ep-silent"})
	if st != http.StatusGatewayTimeout || body["code"] != "runtime_timeout" {
		t.Fatalf("silent runtime: %d %v", st, body)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("timeout took %s with SY_REQUEST_TIMEOUT=1s", el)
	}
	silent.Expect("session.create")
	// An offline runtime: 503 at once.
	_ = silent.Conn.Close()
	waitFor(t, "runtime offline", func() bool {
		_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		eps := decodeList(t, raw)
		return len(eps) == 1 && eps[0]["online"] == false
	})
	if st, body, _ := h.rest("POST", "/v1/sessions", clientToken, map[string]any{"endpoint_id": "ep-silent"}); st != http.StatusServiceUnavailable || body["code"] != "runtime_offline" {
		t.Fatalf("offline runtime: %d %v", st, body)
	}
}

// TestUserMessageToOfflineRuntime: the client gets runtime_offline, and
// the turn is released so a later message can go through.
func TestUserMessageToOfflineRuntime(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	_ = rt.Conn.Close()
	waitFor(t, "runtime offline", func() bool {
		_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		return decodeList(t, raw)[0]["online"] == false
	})
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)
	c.MustSend(map[string]any{"type": "user.message", "session_id": sid, "payload": map[string]any{"session_id": sid, "message_id": "m1", "content": "hi"}})
	// The runtime's departure (runtime.status) may come in history or live,
	// and the transcript echo and the directed error take different paths:
	// any order.
	if e := c.ExpectAll([]string{"user.message", "error"}, "runtime.status")["error"]; payload(e)["code"] != "runtime_offline" {
		t.Fatalf("got %v", e)
	}
	rt2 := h.connectRuntime(0, "r1", "ep1")
	c.MustSend(map[string]any{"type": "user.message", "session_id": sid, "payload": map[string]any{"session_id": sid, "message_id": "m2", "content": "hi again"}})
	if um := rt2.Expect("user.message"); payload(um)["message_id"] != "m2" {
		t.Fatalf("got %v", um)
	}
}

// TestBadFramesKeepTheSocketOpen: malformed and unknown frames are answered
// with an error code and the socket goes on working.
func TestBadFramesKeepTheSocketOpen(t *testing.T) {
	h := startHub(t, hubOptions{})
	c := h.connectClient(0, clientToken)
	cases := []struct{ frame, code string }{
		{`{not json`, "invalid_json"},
		{`{"type":"frobnicate"}`, "unknown_type"},
		{`{"type":"agent.output","payload":{}}`, "unsupported_type"},
		{`{"payload":{}}`, "invalid_message"},
		{`{"type":"client.subscribe","payload":{"session_id":"a.b"}}`, "invalid_message"},
		{`{"type":"client.subscribe","payload":{"session_id":"nope","after_seq":0}}`, "session_not_found"},
		{`{"type":"user.message","payload":{"session_id":"s","content":5}}`, "invalid_message"},
		{`{"type":"client.unsubscribe","payload":{"session_id":"nope"}}`, "not_subscribed"},
	}
	for _, tc := range cases {
		c.MustSend(tc.frame)
		e := c.Expect("error")
		if payload(e)["code"] != tc.code || payload(e)["message"] == "" {
			t.Fatalf("%s: got %v, want code %s", tc.frame, e, tc.code)
		}
	}
	c.MustSend(`{"type":"ping","ts":"2024-01-15T10:30:00Z"}`)
	if p := c.Expect("pong"); p["ts"] == "" {
		t.Fatalf("pong without ts: %v", p)
	}
}

func TestClientAuthAndAuthorization(t *testing.T) {
	h := startHub(t, hubOptions{})
	bad := dial(t, h.ws(0, "/ws/client?token=nope"))
	if e := bad.Expect("error"); payload(e)["code"] != "auth_failed" {
		t.Fatalf("got %v", e)
	}
	if code := bad.CloseCode(); code != 1008 {
		t.Fatalf("close %d, want 1008", code)
	}
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	bob := h.connectClient(0, bobToken)
	bob.MustSend(map[string]any{"type": "client.subscribe", "payload": map[string]any{"session_id": sid, "after_seq": 0}})
	if e := bob.Expect("error"); payload(e)["code"] != "forbidden" {
		t.Fatalf("bob subscribing to alice's session: %v", e)
	}
	bob.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "x", "content": "hi"}})
	if e := bob.Expect("error"); payload(e)["code"] != "forbidden" {
		t.Fatalf("bob writing to alice's session: %v", e)
	}
	// Non-upgrade request: HTTP 400.
	resp, err := http.Get(h.gateways[0] + "/ws/client")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET /ws/client: %d", resp.StatusCode)
	}
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	h := startHub(t, hubOptions{env: map[string]string{"SY_MAX_MESSAGE_BYTES": "1024"}})
	c := h.connectClient(0, clientToken)
	big := make([]byte, 2048)
	for i := range big {
		big[i] = 'a'
	}
	c.MustSend(`{"type":"ping","x":"` + string(big) + `"}`)
	if code := c.CloseCode(); code != 1009 {
		t.Fatalf("close %d, want 1009", code)
	}
	// The hub is fine.
	c2 := h.connectClient(0, clientToken)
	c2.MustSend(`{"type":"ping"}`)
	c2.Expect("pong")
}

// TestSilentPeerIsDropped: a socket that stops answering pings is closed
// and its ownership record removed.
func TestSilentPeerIsDropped(t *testing.T) {
	h := startHub(t, hubOptions{env: map[string]string{"SY_PING_PERIOD": "100ms", "SY_PONG_WAIT": "400ms"}})
	rdb := h.redis.Client(t)
	c, _, err := wspeer.DialNoRead(h.ws(0, "/ws/client?token="+clientToken))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "conn recorded", func() bool { return rdb.HLen(t.Context(), "sy:pod:dev-gateway:conns").Val() == 1 })
	waitFor(t, "conn dropped and forgotten", func() bool { return rdb.HLen(t.Context(), "sy:pod:dev-gateway:conns").Val() == 0 })
}

// TestTranscriptSurvivesRestart: stop every process, start again on the
// same data, and after_seq 0 returns the whole history.
func TestTranscriptSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	redis := startRedisKeep(t)
	h := startHub(t, hubOptions{dataDir: dir, redis: redis})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)
	c.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "m1", "content": "echo hi"}})
	rt.Expect("user.message")
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{"session_id": sid, "seq": 1, "channel": "stdout", "content": "hi\n", "final": true}})
	rt.MustSend(map[string]any{"type": "turn.completed", "session_id": sid, "payload": map[string]any{"session_id": sid, "in_response_to": "m1", "exit_code": 0}})
	c.Expect("user.message")
	c.Expect("agent.output")
	c.Expect("turn.completed")
	h.stop()

	h2 := startHub(t, hubOptions{dataDir: dir, redis: redis})
	c2 := h2.connectClient(0, clientToken)
	hist := subscribe(c2, sid, 0)
	// The runtime's socket closed when the hub stopped: its runtime.status
	// is stored if the session service handled it before stopping (else
	// it is handled after the restart, behind this replay).
	if n := len(hist); n == 4 && hist[3]["type"] == "runtime.status" && payload(hist[3])["online"] == false {
		hist = hist[:3]
	}
	if len(hist) != 3 || hist[0]["type"] != "user.message" || payload(hist[1])["content"] != "hi\n" || hist[2]["type"] != "turn.completed" {
		t.Fatalf("history after restart: %v", hist)
	}
	for i, m := range hist {
		if m["seq"] != float64(i+1) {
			t.Fatalf("history after restart has seq %v at %d", m["seq"], i)
		}
	}
}

// TestRateLimitAtTheEdge: a socket sending faster than SY_RATE_LIMIT gets
// error{rate_limited} (at most one per second), the excess frames are
// dropped, and the socket stays usable.
func TestRateLimitAtTheEdge(t *testing.T) {
	h := startHub(t, hubOptions{env: map[string]string{"SY_RATE_LIMIT": "5", "SY_RATE_BURST": "5"}})
	c := h.connectClient(0, clientToken)
	for i := 0; i < 30; i++ {
		c.MustSend(`{"type":"ping"}`)
	}
	pongs, limited := 0, 0
	for pongs+limited < 6 {
		switch f := c.Next(); f["type"] {
		case "pong":
			pongs++
		case "error":
			if payload(f)["code"] != "rate_limited" {
				t.Fatalf("got %v", f)
			}
			limited++
		}
	}
	if pongs != 5 || limited != 1 {
		t.Fatalf("%d pongs and %d rate_limited errors, want 5 and 1", pongs, limited)
	}
	// Tokens come back at 5/s: the socket answers again.
	deadline := time.Now().Add(waitLimit)
	for {
		c.MustSend(`{"type":"ping"}`)
		select {
		case f := <-c.Frames:
			if f["type"] == "pong" {
				return
			}
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never answered again")
		}
	}
}
