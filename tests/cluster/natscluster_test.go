package cluster

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
)

// Issue 14 §1: a 3-node JetStream cluster with every stream, KV bucket
// and object store at R3. The node leading a stream is killed (SIGKILL)
// while a runtime streams agent.output; every frame the hub did not
// refuse, and every refused frame retried with its id, reaches the
// client exactly once with seq 1..n, the replay and the stored
// transcript agree, and the services carry on without a restart.

// TestNATSClusterEVTLeaderKilled kills the node leading SY_EVT (the
// transcript: the session service's appends and the gateways' live
// fan-out via its RePublish).
func TestNATSClusterEVTLeaderKilled(t *testing.T) { natsClusterLeaderKilled(t, bus.StreamTranscript()) }

// TestNATSClusterINLeaderKilled kills the node leading SY_IN (the
// gateways' publishes of inbound frames and the session service's
// partition consumers).
func TestNATSClusterINLeaderKilled(t *testing.T) { natsClusterLeaderKilled(t, bus.StreamInbound()) }

// failoverLimit bounds the waits for progress after the kill.
const failoverLimit = 60 * time.Second

// streamInfo asks for one stream's info with a deadline of its own (a
// request to a node that just died is not answered).
func streamInfo(js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// replicated reports whether a stream has a leader, not dead, and want
// current replicas.
func replicated(info *jetstream.StreamInfo, want int, dead string) bool {
	if info == nil || info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == dead {
		return false
	}
	current := 0
	for _, r := range info.Cluster.Replicas {
		if r.Current && !r.Offline && r.Name != dead {
			current++
		}
	}
	return current >= want
}

// waitReplicated waits for the meta leader (only it answers account
// info in a cluster), every stream at R3, and the streams this test
// cares about led with two current replicas.
func (c *cluster) waitReplicated(js jetstream.JetStream) {
	c.t.Helper()
	waitFor(c.t, "a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	for _, name := range []string{bus.StreamTranscript(), bus.StreamInbound(), "KV_" + bus.BucketSessions()} {
		waitFor(c.t, name+" led with two current replicas", func() bool {
			info, err := streamInfo(js, name)
			return err == nil && replicated(info, 2, "")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lister := js.ListStreams(ctx)
	n := 0
	for info := range lister.Info() {
		n++
		if info.Config.Replicas != 3 {
			c.t.Errorf("stream %s has %d replicas, want 3 (SY_STREAM_REPLICAS)", info.Config.Name, info.Config.Replicas)
		}
	}
	if err := lister.Err(); err != nil {
		c.t.Fatalf("list streams: %v", err)
	}
	if n < 4 {
		c.t.Fatalf("only %d streams exist", n)
	}
}

// replay subscribes from seq 0 on gateway 0 until total frames are in.
func (c *cluster) replay(sid string, total int) *frameLog {
	c.t.Helper()
	return c.follow(0, sid, "the replay", func(l *frameLog) bool { return l.len() >= total })
}

// follow subscribes a client on gateway gw to sid from seq 0 and waits
// until enough says its frames are in. A subscribe answered
// error{unavailable} (the hub could not read the transcript, e.g. while
// the JetStream API of a just-formed cluster still has no responders:
// documented as "subscribe again") is retried on a new socket, at most
// twice; any other error frame ends it and check reports it.
func (c *cluster) follow(gw int, sid, what string, enough func(*frameLog) bool) *frameLog {
	c.t.Helper()
	for attempt := 1; ; attempt++ {
		l := newFrameLog()
		p := c.client(gw)
		p.MustSend(subscribeFrame(sid, 0))
		go l.read(p)
		waitFor(c.t, what, func() bool { return enough(l) || l.errors() > 0 })
		if l.errors() == 0 || attempt == 3 || !l.unavailable() {
			return l
		}
		c.t.Logf("%s: subscribe attempt %d answered error{unavailable}; retrying", what, attempt)
	}
}

func (l *frameLog) errors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.wrong)
}

func (l *frameLog) unavailable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.wrong {
		if !strings.Contains(w, "unavailable") {
			return false
		}
	}
	return len(l.wrong) > 0
}

func (l *frameLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seqs)
}

// distinct is how many of the contents frame-000001..frame-n were seen.
func (l *frameLog) distinct(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := 0
	for i := 1; i <= n; i++ {
		if l.count[frameContent(i)] > 0 {
			k++
		}
	}
	return k
}

// check asserts seq 1..len strictly increasing with no gap or
// duplicate, no error frame, and each of n frames' contents exactly
// once; it returns the number of seqs.
func (l *frameLog) check(t *testing.T, who string, n int) int64 {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.wrong) > 0 {
		t.Errorf("%s: %v", who, l.wrong[:min(5, len(l.wrong))])
	}
	for i, s := range l.seqs {
		if s != int64(i+1) {
			t.Errorf("%s: frame %d has seq %d (a gap, a duplicate or out of order; seqs around it %v)", who, i, s, l.seqs[max(0, i-3):min(len(l.seqs), i+3)])
			break
		}
	}
	var missing, dups []string
	for i := 1; i <= n; i++ {
		switch k := l.count[frameContent(i)]; {
		case k == 0:
			missing = append(missing, frameContent(i))
		case k > 1:
			dups = append(dups, fmt.Sprintf("%s×%d", frameContent(i), k))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d frames lost, e.g. %v", who, len(missing), missing[:min(5, len(missing))])
	}
	if len(dups) > 0 {
		t.Errorf("%s: %d frames delivered more than once, e.g. %v", who, len(dups), dups[:min(5, len(dups))])
	}
	return int64(len(l.seqs))
}

func frameContent(i int) string { return fmt.Sprintf("frame-%06d", i) }

// outputFrame is output() with an envelope id of the runtime's own: an
// error{unavailable} names the frame by it and a retry carries it
// again, so JetStream's dedupe stores the frame once.
func outputFrame(sid string, i int) map[string]any {
	f := output(sid, i)
	f["id"] = fmt.Sprintf("out-%06d", i)
	payload(f)["content"] = frameContent(i)
	return f
}

// producer is a runtime streaming frames and retrying the ones the hub
// refused (error{unavailable} with the frame's id).
type producer struct {
	rt  *peer
	sid string

	mu         sync.Mutex
	next       int // the next new frame
	sent       int // frames written, retries included
	refusals   int
	refused    []int    // waiting for a retry
	unexpected []string // other frames the runtime got
	pongs      chan struct{}
	stop       chan struct{} // stop reading the runtime's socket
	stopped    chan struct{}
}

func newProducer(rt *peer, sid string) *producer {
	p := &producer{rt: rt, sid: sid, next: 1, pongs: make(chan struct{}, 16), stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.readRuntime()
	return p
}

// readRuntime takes the runtime socket's frames until stop: refusals are
// queued for a retry.
func (p *producer) readRuntime() {
	defer close(p.stopped)
	for {
		select {
		case <-p.stop:
			return
		case m, ok := <-p.rt.Frames:
			if !ok {
				return
			}
			p.mu.Lock()
			switch m["type"] {
			case "error":
				id, _ := m["id"].(string)
				var i int
				if payload(m)["code"] == "unavailable" && strings.HasPrefix(id, "out-") {
					if _, err := fmt.Sscanf(id, "out-%06d", &i); err == nil {
						p.refusals++
						p.refused = append(p.refused, i)
						break
					}
				}
				p.unexpected = append(p.unexpected, fmt.Sprint(m))
			case "pong":
				p.pongs <- struct{}{}
			case "runtime.token_refresh":
			default:
				p.unexpected = append(p.unexpected, fmt.Sprint(m))
			}
			p.mu.Unlock()
		}
	}
}

// send writes frame i (new or a retry).
func (p *producer) send(i int) error {
	if err := p.rt.Send(outputFrame(p.sid, i)); err != nil {
		return err
	}
	p.mu.Lock()
	p.sent++
	p.mu.Unlock()
	return nil
}

// retries takes the refused frames waiting for a retry.
func (p *producer) retries() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.refused
	p.refused = nil
	return r
}

// stream sends new frames (and retries) paced by gap until stop or
// maxFrames; it returns the number of distinct frames sent.
func (p *producer) stream(stop <-chan struct{}, maxFrames int, gap time.Duration) <-chan int {
	done := make(chan int, 1)
	go func() {
		for p.next <= maxFrames {
			select {
			case <-stop:
				done <- p.next - 1
				return
			default:
			}
			for _, i := range p.retries() {
				if p.send(i) != nil {
					done <- p.next - 1
					return
				}
			}
			if p.send(p.next) != nil {
				break
			}
			p.next++
			time.Sleep(gap) // pacing a producer, not waiting for an event
		}
		done <- p.next - 1
	}()
	return done
}

func (p *producer) counts() (sent, refusals, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.refusals, len(p.refused)
}

// settle retries refused frames until every frame the runtime wrote has
// its outcome: the gateway observes its publish latency once per
// settled publish (after answering a refusal), so when that count is
// up to the frames written, every error{unavailable} is queued on the
// socket, and a pong queued after them fences them in.
func (c *cluster) settle(p *producer, gw int, base float64) {
	c.t.Helper()
	const published = "switchyard_gateway_publish_seconds_count"
	for round := 0; ; round++ {
		if round == 20 {
			c.t.Fatalf("frames still refused after %d rounds of retries", round)
		}
		for _, i := range p.retries() {
			if err := p.send(i); err != nil {
				c.t.Fatalf("retry frame %d: %v", i, err)
			}
		}
		sent, _, _ := p.counts()
		waitFor(c.t, fmt.Sprintf("the gateway to settle %d publishes", sent), func() bool {
			return c.metric(c.gateways[gw], published)-base >= float64(sent)
		})
		p.rt.MustSend(map[string]any{"type": "ping"})
		select {
		case <-p.pongs:
		case <-time.After(waitLimit):
			c.t.Fatal("no pong from the runtime's gateway")
		}
		if _, _, waiting := p.counts(); waiting == 0 {
			return
		}
	}
}

func natsClusterLeaderKilled(t *testing.T, stream string) {
	start := time.Now()
	c := startCluster(t, clusterOptions{natsNodes: 3, gateways: 2, sessions: 2, relays: 1})
	js := c.jetStream()
	c.waitReplicated(js)
	t.Logf("3-node cluster and services up in %s", time.Since(start).Round(time.Millisecond))

	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")

	const published = "switchyard_gateway_publish_seconds_count"
	base := c.metric(c.gateways[0], published)
	prod := newProducer(rt, sid)
	stop := make(chan struct{})
	const maxFrames = 40000 // bound: the producer stops here whatever happens (80 s at its pace)
	produced := prod.stream(stop, maxFrames, 2*time.Millisecond)
	// The client on gateway 1 gets what was produced before it subscribed
	// as history, then the rest live.
	live := c.follow(1, sid, "first frames", func(l *frameLog) bool { return l.len() >= 100 })

	// The kill comes while the stream's two followers are current (a
	// follower may lag a moment behind a streaming leader).
	var info *jetstream.StreamInfo
	waitFor(t, stream+" led with two current replicas while streaming", func() bool {
		var err error
		info, err = streamInfo(js, stream)
		return err == nil && replicated(info, 2, "")
	})
	leader := info.Cluster.Leader
	victim := slices.IndexFunc(c.natsNodes, func(p *proc) bool { return p.name == leader })
	if victim < 0 {
		t.Fatalf("%s is led by %q, not one of the %d nodes", stream, leader, len(c.natsNodes))
	}
	atKill := live.len()
	c.natsNodes[victim].kill()
	killed := time.Now()
	t.Logf("killed %s (leader of %s) at frame %d", leader, stream, atKill)

	waitFor(t, stream+" led by a survivor", func() bool {
		info, err := streamInfo(js, stream)
		return err == nil && replicated(info, 1, leader)
	})
	failover := time.Since(killed)
	if info, err := streamInfo(js, stream); err == nil {
		t.Logf("%s led by %s %s after the kill", stream, info.Cluster.Leader, failover.Round(time.Millisecond))
	}
	// The runtime keeps streaming new frames through the new leader.
	afterFailover := live.len()
	// Recovery is not what is asserted (only that it comes and loses
	// nothing): besides the stream, the partition consumers and buckets
	// the dead node led elect leaders too, slower on a loaded machine.
	resumed := time.Now()
	waitWithin(t, failoverLimit, "frames after the failover", func() bool { return live.len() >= afterFailover+300 })
	t.Logf("300 frames through the new leaders %s after it was elected", time.Since(resumed).Round(time.Millisecond))
	close(stop)
	n := <-produced
	if n >= maxFrames {
		t.Fatalf("the producer reached its bound of %d frames before the failover was over", maxFrames)
	}
	c.settle(prod, 0, base)
	waitWithin(t, failoverLimit, fmt.Sprintf("the client to see all %d frames", n), func() bool { return live.distinct(n) == n })
	sent, refusals, _ := prod.counts()

	total := live.check(t, "live client", n)
	if total != int64(n) {
		t.Errorf("live client saw %d transcript frames for %d sent", total, n)
	}

	// A replay from seq 0 on the other gateway shows the same frames.
	replay := c.replay(sid, int(total))
	replay.check(t, "replay", n)
	live.mu.Lock()
	replay.mu.Lock()
	for seq := int64(1); seq <= total; seq++ {
		if !bytes.Equal(live.frames[seq], replay.frames[seq]) {
			t.Errorf("seq %d: live %s, replay %s", seq, live.frames[seq], replay.frames[seq])
			break
		}
	}
	replay.mu.Unlock()
	live.mu.Unlock()

	// The stored transcript itself. A fresh connection may find the
	// buckets and the direct-get responders of SY_EVT still moving after
	// the kill (a timeout opening sy_sessions, "no responders"): retry
	// until opened and read.
	b := testenv.Bus(t, c.natsURL(), "natscluster-test")
	var st *transcript.Store
	var err error
	waitFor(t, "the transcript store to open", func() bool {
		st, err = transcript.Open(t.Context(), b)
		if err != nil {
			t.Logf("open the transcript store: %v (retrying)", err)
		}
		return err == nil
	})
	var page transcript.Page
	waitFor(t, "the stored transcript", func() bool {
		page, err = st.ReadAfter(t.Context(), sid, 0, 0, 1_000_000, 1<<30)
		if err != nil {
			t.Logf("read the stored transcript: %v (retrying)", err)
		}
		return err == nil
	})
	if int64(len(page.Messages)) != total {
		t.Errorf("the stream stored %d messages, the client saw %d", len(page.Messages), total)
	}
	for i, env := range page.Messages {
		if env.GetSeq() != int64(i+1) {
			t.Fatalf("stored transcript: message %d has seq %d", i, env.GetSeq())
		}
		if want := live.frames[env.GetSeq()]; !bytes.Contains(want, []byte(`"content":"`+env.GetAgentOutput().GetContent()+`"`)) {
			t.Fatalf("stored seq %d has content %q, the client saw %s", env.GetSeq(), env.GetAgentOutput().GetContent(), want)
		}
	}

	// The services carry on without a restart: a new session (a KV
	// create in sy_sessions) streams through the two surviving nodes.
	close(prod.stop)
	<-prod.stopped
	if len(prod.unexpected) > 0 {
		t.Errorf("the runtime got %v", prod.unexpected[:min(5, len(prod.unexpected))])
	}
	for _, p := range append(append(append([]*proc{}, c.gateways...), c.sessions...), c.relays...) {
		if !p.running() {
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(p.log))
		}
	}
	// The new session's partition consumers (SY_IN, SY_RT) may be among
	// those still electing a leader on a loaded machine: its first
	// command may take up to the failover bound.
	rt.Limit = failoverLimit
	sid2 := c.createSession(1, rt, "ep1")
	f := newFollower()
	p2 := c.subscribed(0, sid2, 0, f)
	const m = 200
	if err := <-streamTo(rt, sid2, m); err != nil {
		t.Fatal(err)
	}
	f.follow(t, p2, m)
	f.exact(t, "client of the new session", m)
	rt.MustSend(map[string]any{"type": "ping"})
	rt.Expect("pong")
	t.Logf("%s: %d frames, %d writes (%d refused with error{unavailable} and retried), new leader within %s, test %s",
		stream, n, sent, refusals, failover.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// streamTo sends outputs 1..n of a session without pacing.
func streamTo(rt *peer, sid string, n int) <-chan error { return stream(rt, sid, 1, n, 0) }
