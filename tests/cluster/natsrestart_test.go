package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
)

// frameLog is what one subscriber saw of a session: seq → the frame, as
// canonical JSON (keys sorted), live frames and history alike; the seqs in
// arrival order and how often each content came.
type frameLog struct {
	mu      sync.Mutex
	frames  map[int64][]byte
	seqs    []int64
	count   map[string]int // content → how often seen
	wrong   []string       // a seq seen twice with different bytes, error frames
	last    int64
	final   bool // saw the closing marker frame
	stopped chan struct{}
}

func newFrameLog() *frameLog {
	return &frameLog{frames: map[int64][]byte{}, count: map[string]int{}, stopped: make(chan struct{})}
}

func (l *frameLog) take(m map[string]any) {
	seq, ok := m["seq"].(float64)
	if !ok {
		return
	}
	b, _ := json.Marshal(m)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := int64(seq)
	if prev, ok := l.frames[s]; ok && !bytes.Equal(prev, b) {
		l.wrong = append(l.wrong, fmt.Sprintf("seq %d seen as %s and as %s", s, prev, b))
	}
	l.frames[s] = b
	l.seqs = append(l.seqs, s)
	l.last = max(l.last, s)
	if p, _ := m["payload"].(map[string]any); p != nil {
		content, _ := p["content"].(string)
		l.count[content]++
		l.final = l.final || content == "final"
	}
}

// read records p's frames until the socket ends.
func (l *frameLog) read(p *peer) {
	defer close(l.stopped)
	readFrames(p, l.take, func(m map[string]any) {
		l.mu.Lock()
		l.wrong = append(l.wrong, fmt.Sprintf("error frame %v", m))
		l.mu.Unlock()
	})
}

func (l *frameLog) state() (last int64, final bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.final
}

// TestNATSKilledMidStream (issue 9 item 4): with two session replicas and
// two gateways, NATS is killed with SIGKILL three times while a runtime
// streams output. Afterwards every subscriber's frames equal the stored
// transcript byte for byte: no seq carries another frame's content, none
// is missing, none is extra.
func TestNATSKilledMidStream(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 2, relays: 1})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	logs := []*frameLog{newFrameLog(), newFrameLog()}
	for gw, l := range logs {
		p := c.client(gw)
		p.MustSend(subscribeFrame(sid, 0))
		go l.read(p)
	}

	const maxFrames = 6000 // bound: the producer stops here whatever happens
	stop := make(chan struct{})
	produced := make(chan int, 1)
	go func() {
		i := 1
		defer func() { produced <- i - 1 }()
		for ; i <= maxFrames; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f := output(sid, i)
			payload(f)["content"] = fmt.Sprintf("frame-%06d", i)
			if rt.Send(f) != nil {
				return
			}
			time.Sleep(time.Millisecond) // pacing a producer, not waiting for an event
		}
	}()

	reach := func(what string, n int64) {
		t.Helper()
		waitFor(t, what, func() bool { last, _ := logs[1].state(); return last >= n })
	}
	reach("first frames", 50)
	for round := 1; round <= 3; round++ {
		c.nats.kill()
		c.restart(c.nats)
		for gw := range c.gateways {
			c.waitReady(c.gateways[gw], c.gwAddrs[gw])
		}
		for _, s := range append(c.sessions, c.relays...) {
			c.waitReady(s, c.health[s])
		}
		last, _ := logs[1].state()
		reach(fmt.Sprintf("frames after NATS restart %d", round), last+100)
	}
	close(stop)
	n := <-produced
	final := map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{
		"session_id": sid, "message_id": "final", "seq": 0, "channel": "stdout", "content": "final", "final": true}}
	rt.MustSend(final)
	for i, l := range logs {
		waitFor(t, fmt.Sprintf("subscriber %d sees the final frame", i), func() bool { _, f := l.state(); return f })
	}

	// The stored transcript, read from SY_EVT itself.
	b := testenv.Bus(t, "nats://"+c.natsAddr, "natsrestart-test")
	st, err := transcript.Open(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.ReadAfter(t.Context(), sid, 0, 0, 1_000_000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]string{}
	for i, env := range page.Messages {
		if env.GetSeq() != int64(i+1) {
			t.Fatalf("stored transcript: message %d has seq %d", i, env.GetSeq())
		}
		if ao := env.GetAgentOutput(); ao != nil {
			stored[env.GetSeq()] = ao.GetContent()
		}
	}
	total := int64(len(page.Messages))
	// The hub's rendering of what it stored: a fresh subscribe from 0.
	fresh := newFrameLog()
	p := c.client(1)
	p.MustSend(subscribeFrame(sid, 0))
	go fresh.read(p)
	waitFor(t, "a fresh subscriber's history", func() bool { _, f := fresh.state(); return f })

	for i, l := range append(logs, fresh) {
		l.mu.Lock()
		if len(l.wrong) > 0 {
			t.Errorf("subscriber %d: %v", i, l.wrong[:min(5, len(l.wrong))])
		}
		if int64(len(l.frames)) != total {
			t.Errorf("subscriber %d saw %d seqs, the stream stored %d", i, len(l.frames), total)
		}
		for seq := int64(1); seq <= total; seq++ {
			got := l.frames[seq]
			if want := fresh.frames[seq]; !bytes.Equal(got, want) {
				t.Errorf("subscriber %d: seq %d is %s, stored %s", i, seq, got, want)
				break
			}
			if content, ok := stored[seq]; ok && !bytes.Contains(got, []byte(`"content":"`+content+`"`)) {
				t.Errorf("subscriber %d: seq %d is %s, the stream stored content %q", i, seq, got, content)
				break
			}
		}
		l.mu.Unlock()
	}
	t.Logf("%d frames sent, %d stored, 3 NATS kills", n+1, total)
}
