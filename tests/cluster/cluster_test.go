package cluster

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// subscribed opens a client on gw, subscribes to sid after after, and
// returns it with its follower primed by the history.
func (c *cluster) subscribed(gw int, sid string, after int64, f *follower) *peer {
	c.t.Helper()
	p := c.client(gw)
	p.MustSend(subscribeFrame(sid, after))
	f.takeHistory(p.Expect("history.response"))
	return p
}

// stream sends outputs from..to paced by gap, in the background.
func stream(rt *peer, sid string, from, to int, gap time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := from; i <= to; i++ {
			if err := rt.Send(output(sid, i)); err != nil {
				done <- err
				return
			}
			if gap > 0 {
				time.Sleep(gap) // pacing a producer, not waiting for an event
			}
		}
		done <- nil
	}()
	return done
}

// TestAnyToAnyDelivery: a runtime on gateway 1, clients of the same
// sessions on gateways 2 and 3, two session and two relay replicas: every
// frame reaches every subscriber once, in seq order.
func TestAnyToAnyDelivery(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 3, sessions: 2, relays: 2})
	rt := c.connectRuntime(0, "r1", "ep1")
	sids := []string{c.createSession(1, rt, "ep1"), c.createSession(2, rt, "ep1")}
	type sub struct {
		p   *peer
		f   *follower
		who string
	}
	var subs []sub
	for _, sid := range sids {
		for gw := 1; gw <= 2; gw++ {
			f := newFollower()
			subs = append(subs, sub{c.subscribed(gw, sid, 0, f), f, fmt.Sprintf("client of %s on gw-%d", sid[:8], gw+1)})
		}
	}
	const n = 300
	for i := 1; i <= n; i++ {
		for _, sid := range sids {
			rt.MustSend(output(sid, i))
		}
	}
	for _, s := range subs {
		s.f.follow(t, s.p, n)
		s.f.exact(t, s.who, n)
	}
	// A client on gateway 3 reaches the runtime on gateway 1, once.
	subs[3].p.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sids[1], "message_id": "m1", "content": "hi"}})
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "m1" || um["session_id"] != sids[1] {
		t.Fatalf("runtime got %v", um)
	}
	subs[3].f.follow(t, subs[3].p, n+1)
	// Both session replicas ran, and together with the runtime's gateway
	// (which appends a session's output itself once the session service
	// confirmed the runtime: SY_DIRECT_APPEND) handled each inbound envelope
	// once: 2×n outputs, 2 session.created, 1 user.message.
	total := map[string]float64{}
	for _, s := range c.sessions {
		for _, typ := range []string{"agent.output", "session.created", "user.message", "runtime.status"} {
			v := c.metric(s, `switchyard_session_messages_total{type="`+typ+`"}`)
			t.Logf("%s handled %.0f %s", s.name, v, typ)
			total[typ] += v
		}
	}
	direct := c.metric(c.gateways[0], "switchyard_gateway_direct_appends_total")
	t.Logf("gw-1 appended %.0f agent.output itself", direct)
	total["agent.output"] += direct
	// The runtime's hello announced it online once (no session yet).
	want := map[string]float64{"agent.output": 2 * n, "session.created": 2, "user.message": 1, "runtime.status": 1}
	for typ, w := range want {
		if total[typ] != w {
			t.Fatalf("session replicas handled %.0f %s envelopes, want %.0f", total[typ], typ, w)
		}
	}
	rt.MustSend(map[string]any{"type": "ping"})
	rt.Expect("pong") // no second user.message before it
}

// TestGatewayKilledMidStream: kill -9 a client's gateway; the client
// resumes on another with after_seq and ends with exactly the transcript;
// the dead pod's records leave Redis within the TTL.
func TestGatewayKilledMidStream(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 3, sessions: 1, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f2, f3 := newFollower(), newFollower()
	p2 := c.subscribed(1, sid, 0, f2)
	p3 := c.subscribed(2, sid, 0, f3)
	rdb := c.rdb()
	if rdb.Exists(t.Context(), "sy:pod:gw-2", "sy:pod:gw-2:conns", "sy:sub:"+sid+":gw-2").Val() != 3 {
		t.Fatalf("gw-2 ownership records missing before the kill")
	}
	const n = 600
	sent := stream(rt, sid, 1, n, 2*time.Millisecond)
	f2.follow(t, p2, 100)
	c.gateways[1].kill()
	killed := time.Now()
	if f2.follow(t, p2, n) {
		t.Fatalf("gw-2 was killed but its socket kept delivering")
	}
	p2b := c.subscribed(2, sid, f2.last, f2) // reconnect elsewhere, resume
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	f2.follow(t, p2b, n)
	f3.follow(t, p3, n)
	f2.exact(t, "reconnected client", n)
	f3.exact(t, "bystander client", n)

	waitFor(t, "gw-2 records gone", func() bool {
		return rdb.Exists(t.Context(), "sy:pod:gw-2", "sy:pod:gw-2:conns", "sy:sub:"+sid+":gw-2").Val() == 0 &&
			rdb.ZScore(t.Context(), "sy:pods", "gw-2").Err() != nil
	})
	if el := time.Since(killed); el > 3*time.Second {
		t.Fatalf("records of the dead pod lived %s (TTL 1.5s)", el)
	}
}

// TestRuntimeGatewayKilled: the runtime's pod dies; a user.message sent
// meanwhile gets runtime_offline; the runtime reconnects elsewhere and is
// online again.
func TestRuntimeGatewayKilled(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 1, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(1, rt, "ep1")
	f := newFollower()
	cl := c.subscribed(1, sid, 0, f)
	c.gateways[0].kill()
	cl.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "m1", "content": "anyone?"}})
	// The transcript echo and the directed error take different paths.
	if e := cl.ExpectAll([]string{"user.message", "error"})["error"]; payload(e)["code"] != "runtime_offline" {
		t.Fatalf("got %v", e)
	}
	rt2 := c.connectRuntime(1, "r1", "ep1")
	resp := c.getJSON(1, "/v1/endpoints")
	if !strings.Contains(resp, `"online":true`) {
		t.Fatalf("endpoint not back online: %s", resp)
	}
	cl.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "m2", "content": "again"}})
	if um := rt2.Expect("user.message"); payload(um)["message_id"] != "m2" {
		t.Fatalf("runtime got %v", um)
	}
}

// TestGatewayDrain: SIGTERM closes sockets with 1001 after their queued
// frames, removes the pod's records and exits within the drain timeout.
func TestGatewayDrain(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 1, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	p := c.subscribed(1, sid, 0, f)
	const n = 200
	for i := 1; i <= n; i++ {
		rt.MustSend(output(sid, i))
	}
	f.follow(t, p, 50)
	took := c.gateways[1].term(t, 10*time.Second)
	if took > 5*time.Second+time.Second {
		t.Fatalf("drain took %s (drain timeout 5s)", took)
	}
	f.follow(t, p, n) // whatever was queued before the close is delivered
	if code := p.CloseCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if left := c.rdb().Exists(t.Context(), "sy:pod:gw-2", "sy:pod:gw-2:conns", "sy:sub:"+sid+":gw-2").Val(); left != 0 {
		t.Fatalf("%d ownership keys of the drained pod remain", left)
	}
	p2 := c.subscribed(0, sid, f.last, f)
	rt.MustSend(output(sid, n+1))
	f.follow(t, p2, n+1)
	f.exact(t, "client after drain", n+1)
}

// TestServiceReplicaKilled: kill -9 the session replica that owns the
// session's partition, then a relay replica, mid-stream; the survivors take
// over (the pin expires, JetStream redelivers what the dead one held) and
// the client sees every frame once.
func TestServiceReplicaKilled(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 1, sessions: 2, relays: 2})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	p := c.subscribed(0, sid, 0, f)
	const n = 600
	sent := stream(rt, sid, 1, n, time.Millisecond)
	// Kill the replica that owns the session's partition now: the one
	// whose appends grow while the stream goes on.
	f.follow(t, p, 100)
	before := []float64{c.metric(c.sessions[0], "switchyard_session_transcript_appends_total"), c.metric(c.sessions[1], "switchyard_session_transcript_appends_total")}
	f.follow(t, p, 150)
	owner := 0
	if c.metric(c.sessions[1], "switchyard_session_transcript_appends_total") > before[1] {
		owner = 1
	}
	t.Logf("killing session replica %d, the partition's owner (appends before %v)", owner, before)
	c.sessions[owner].kill()
	f.follow(t, p, 300)
	c.relays[0].kill()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	p.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "after-kill", "content": "still there?"}})
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "after-kill" {
		t.Fatalf("runtime got %v", um)
	}
	f.follow(t, p, n+1)
	f.exact(t, "client", n+1)
}

// TestNATSAndRedisRestart: the services reconnect by themselves and serve
// again without any pod restart.
func TestNATSAndRedisRestart(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 1, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	p := c.subscribed(1, sid, 0, f)
	for i := 1; i <= 20; i++ {
		rt.MustSend(output(sid, i))
	}
	f.follow(t, p, 20)

	c.nats.kill()
	c.restart(c.nats)
	for gw := range c.gateways {
		c.waitReady(c.gateways[gw], c.gwAddrs[gw])
	}
	for _, s := range append(c.sessions, c.relays...) {
		c.waitReady(s, c.health[s])
	}
	for i := 21; i <= 40; i++ {
		rt.MustSend(output(sid, i))
	}
	f.follow(t, p, 40)
	p.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "after-nats", "content": "x"}})
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "after-nats" {
		t.Fatalf("runtime got %v", um)
	}
	rt.MustSend(map[string]any{"type": "turn.completed", "session_id": sid, "payload": map[string]any{"session_id": sid, "in_response_to": "after-nats"}})
	f.follow(t, p, 42)

	if err := c.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	rdb := c.rdb()
	waitFor(t, "ownership rewritten after the Redis restart", func() bool {
		return rdb.Exists(t.Context(), "sy:rt:r1", "sy:pod:gw-1:conns", "sy:sub:"+sid+":gw-2").Val() == 3
	})
	p.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "after-redis", "content": "y"}})
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "after-redis" {
		t.Fatalf("runtime got %v", um)
	}
	f.follow(t, p, 43)
	f.exact(t, "client", 43)
}

// TestSlowConsumerIsDropped: a subscriber that stops reading is closed
// with 4008 when its queue overflows; the other subscriber of the same
// session gets everything; the drop is counted.
func TestSlowConsumerIsDropped(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 1, relays: 1,
		env: []string{"SY_SEND_QUEUE_FRAMES=1024", "SY_SEND_QUEUE_BYTES=2097152"}})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	good := c.subscribed(1, sid, 0, f)
	slow, _, err := websocket.DefaultDialer.Dial(c.ws(1, "/ws/client?token="+clientToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteJSON(subscribeFrame(sid, 0)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 4096)
	const n = 6000
	go func() {
		for i := 1; i <= n; i++ {
			m := output(sid, i)
			payload(m)["content"] = big
			if rt.Send(m) != nil {
				return
			}
		}
	}()
	if !f.follow(t, good, n) {
		t.Fatalf("the reading client was dropped too (at seq %d)", f.last)
	}
	f.exact(t, "reading client", n)
	waitFor(t, "drop counted", func() bool {
		return c.metric(c.gateways[1], "switchyard_gateway_slow_consumer_drops_total") == 1
	})
	_ = slow.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != 4008 {
				t.Fatalf("slow client ended with %v, want close 4008", err)
			}
			return
		}
	}
}

func (c *cluster) getJSON(gw int, path string) string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.url(gw, path), nil)
	req.Header.Set("Authorization", "Bearer "+clientToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}
