package cluster

import (
	"context"
	"testing"
	"time"
)

// TestIngestBackpressure: with the session service down, a streaming
// runtime fills its SY_IN partition only up to about the admission bound
// (its socket is no longer read; the frames wait in the runtime's TCP
// connection instead of the stream). The socket stays open, and once the
// session service is back every frame reaches the client once, in order.
// Admission guards SY_IN, so the runtime's output is sent through it here
// (SY_DIRECT_APPEND=false); with direct appends on, a confirmed session's
// output does not wait for the session service at all (direct_test.go in
// tests/e2e).
func TestIngestBackpressure(t *testing.T) {
	t.Run("count bound", func(t *testing.T) {
		ingestBackpressure(t, 50, "SY_INGEST_MAX_BACKLOG=50", "SY_INGEST_MAX_LAG=0")
	})
	// The default lag bound: with the session service down the partition
	// drains at 0/s, so any backlog over minLagBacklog (100) is too slow.
	t.Run("lag bound", func(t *testing.T) { ingestBackpressure(t, 100) })
}

func ingestBackpressure(t *testing.T, bound int, env ...string) {
	const n = 1000
	env = append(env, "SY_DIRECT_APPEND=false")
	c := startCluster(t, clusterOptions{gateways: 1, sessions: 1, relays: 1, env: env})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	f := newFollower()
	p := c.subscribed(0, sid, 0, f)
	c.sessions[0].kill()

	sent := stream(rt, sid, 1, n, 2*time.Millisecond) // ≈ 500/s: 2 s unthrottled
	waitFor(t, "the gateway pausing the runtime", func() bool {
		return c.metric(c.gateways[0], "switchyard_gateway_ingest_paused_total") >= 1
	})
	stored := c.inboundMessages()
	// Admission lags the backlog by up to one poll (250 ms ≈ 125 frames here)
	// plus the frame that waits out admissionMaxWait; without it the stream
	// would take all n frames within 2 s.
	if stored > uint64(bound)+300 {
		t.Fatalf("SY_IN holds %d messages with the session service down; admission should stop near %d", stored, bound)
	}
	// A paused frame that waited out admissionMaxWait (5 s: the backlog
	// cannot fall with the session service down) is admitted; by then an
	// unthrottled runtime would have sent all n frames.
	waitFor(t, "a paused frame to wait out its limit", func() bool {
		return c.metric(c.gateways[0], "switchyard_gateway_ingest_pause_seconds_count") >= 1
	})
	again := c.inboundMessages()
	t.Logf("SY_IN: %d messages when the gateway paused, %d after one pause limit (%d frames sent)", stored, again, n)
	if again > uint64(bound)+300+1 {
		t.Fatalf("SY_IN grew to %d messages while the runtime was paused", again)
	}

	c.restart(c.sessions[0])
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	f.follow(t, p, n)
	f.exact(t, "client", n)
	// The frames that waited in the runtime's connection were read back to
	// back once admitted: they went to SY_IN in batches, and still reached
	// the client once each, in order (above).
	frames := c.metric(c.gateways[0], "switchyard_gateway_ingest_batch_frames_sum")
	messages := c.metric(c.gateways[0], "switchyard_gateway_ingest_batch_frames_count")
	t.Logf("%v frames published in %v SY_IN messages", frames, messages)
	if frames < n || messages >= frames {
		t.Errorf("%v frames in %v messages: the paused frames were not batched", frames, messages)
	}
	if c.metric(c.gateways[0], "switchyard_gateway_closes_total") != 0 {
		t.Fatalf("a socket was closed while the runtime was paused")
	}
}

// inboundMessages is the number of messages in SY_IN (stored, not yet
// handled by the session service; a batch of frames is one).
func (c *cluster) inboundMessages() uint64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.jetStream().Stream(ctx, "SY_IN")
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return info.State.Msgs
}
