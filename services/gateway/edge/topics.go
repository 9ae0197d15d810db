package edge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// topics is the gateway's live fan-out. For every session with at least
// one local subscriber the pod holds one core NATS subscription on the
// session's transcript subject: the session service's append to SY_EVT is
// also a core publish, so each event reaches each interested pod once, is
// rendered once per dialect and role present, and is queued by reference
// on every local socket. No Redis lookup happens per frame.
//
// Order and exactly-once: each topic remembers the last seq it delivered.
// An older seq is a duplicate and dropped; a newer one than expected means
// core NATS lost something (reconnect, slow consumer), and the gap is read
// back from the transcript before the new event is delivered.
//
// Locks: topics.mu guards the map and each topic's reference count,
// topic.mu a topic's subscribers and last seq. Neither is ever held
// across network I/O: a topic is opened (subscribe + end of transcript)
// by its first joiner with no lock held, later joiners wait for it on
// topic.ready, and gap repair runs on the topic's NATS callback
// goroutine (one per topic, in order) with topic.mu taken per event.
type topics struct {
	s  *Server
	mu sync.Mutex
	m  map[string]*topic
}

type topic struct {
	session string
	refs    int           // joiners and subscribers (under topics.mu)
	ready   chan struct{} // closed once opened (err set on failure)
	err     error
	nsub    *nats.Subscription

	mu   sync.Mutex
	last int64
	subs map[*Conn]*subscription
}

// subscription is one socket following one session.
type subscription struct {
	tp           *topic
	after        int64 // the socket has everything up to here
	live         bool  // history sent: live frames go straight to the socket
	pending      []pendingFrame
	pendingBytes int
	overflowed   bool // pending passed its bound: the socket is dropped
}

type pendingFrame struct {
	seq   int64
	env   *syv1.Envelope
	frame Frame
}

// sendLive queues a followed session's event on c: through the dialect
// when it keeps per-socket state (LiveSender), else f as it is.
func (c *Conn) sendLive(env *syv1.Envelope, f Frame) {
	if ls, ok := c.d.(LiveSender); ok {
		ls.Live(c, env, f)
		return
	}
	_ = c.Send(f)
}

func newTopics(s *Server) *topics { return &topics{s: s, m: map[string]*topic{}} }

// errReplayOverflow ends a replay whose live backlog overflowed.
var errReplayOverflow = errors.New("gateway: live frames overflowed during the replay")

// Follow subscribes the socket to a session's transcript: pages of
// history after after (through page), then every later event live, each
// exactly once and in order. While the history is sent, live events wait
// in a bounded backlog (the socket's send-queue limits); a socket whose
// backlog overflows is closed (ReasonReplayOverflow). It also records the
// subscription in Redis. Call it from Conn.Do: it waits on the network.
func (c *Conn) Follow(ctx context.Context, session string, after int64, page PageFunc) error {
	s := c.s
	if err := s.topics.join(ctx, c, session, after, page); err != nil {
		if errors.Is(err, errReplayOverflow) {
			c.Close(ReasonReplayOverflow, "")
		}
		return err
	}
	if err := s.reg.Subscribe(ctx, session, c.id); err != nil {
		s.log.WarnContext(ctx, "subscription ownership not recorded", "session", session, "err", err)
	}
	return nil
}

// Unfollow ends the socket's subscription to session; false if it had none.
func (c *Conn) Unfollow(ctx context.Context, session string) bool {
	if !c.s.topics.leave(c, session) {
		return false
	}
	if err := c.s.reg.Unsubscribe(ctx, session, c.id); err != nil {
		c.s.log.WarnContext(ctx, "unsubscribe not recorded", "session", session, "err", err)
	}
	return true
}

// join subscribes c to session: history after after, then live.
func (t *topics) join(ctx context.Context, c *Conn, session string, after int64, page PageFunc) error {
	t.leave(c, session)
	tp, err := t.acquire(ctx, session)
	if err != nil {
		return err
	}
	sub := &subscription{tp: tp, after: after}
	tp.mu.Lock()
	tp.subs[c] = sub
	boundary := tp.last
	tp.mu.Unlock()
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[string]*subscription{}
	}
	c.subs[session] = sub
	c.mu.Unlock()
	if err := t.replay(ctx, c, session, after, boundary, page); err != nil {
		t.leave(c, session)
		return err
	}
	tp.mu.Lock()
	if sub.overflowed {
		tp.mu.Unlock()
		t.leave(c, session)
		return errReplayOverflow
	}
	defer tp.mu.Unlock()
	for _, p := range sub.pending {
		if p.seq > sub.after {
			c.sendLive(p.env, p.frame)
		}
	}
	sub.pending, sub.pendingBytes, sub.live = nil, 0, true
	return nil
}

// acquire returns the session's open topic with a reference held for the
// caller, opening it (with no lock held) if it is new.
func (t *topics) acquire(ctx context.Context, session string) (*topic, error) {
	t.mu.Lock()
	tp := t.m[session]
	fresh := tp == nil
	if fresh {
		tp = &topic{session: session, subs: map[*Conn]*subscription{}, ready: make(chan struct{})}
		t.m[session] = tp
	}
	tp.refs++
	t.mu.Unlock()
	if fresh {
		tp.err = t.open(tp)
		close(tp.ready)
	} else {
		select {
		case <-tp.ready:
		case <-ctx.Done():
			t.release(tp)
			return nil, ctx.Err()
		}
	}
	if tp.err != nil {
		t.release(tp)
		return nil, tp.err
	}
	return tp, nil
}

// release drops one reference; the last one removes the topic and its
// NATS interest.
func (t *topics) release(tp *topic) {
	t.mu.Lock()
	tp.refs--
	gone := tp.refs == 0
	if gone && t.m[tp.session] == tp {
		delete(t.m, tp.session)
	}
	t.mu.Unlock()
	if gone && tp.nsub != nil {
		_ = tp.nsub.Unsubscribe()
		t.s.m.topics.Dec()
	}
}

// open subscribes to the session's live events and learns where its
// transcript ends; events up to there are served from history. Events
// arriving meanwhile wait on the topic's callback goroutine for ready.
func (t *topics) open(tp *topic) error {
	nsub, err := t.s.bus.NC.Subscribe(bus.LiveSubject(tp.session), func(m *nats.Msg) { t.onEvent(tp, m) })
	if err != nil {
		return fmt.Errorf("gateway: follow %s: %w", tp.session, err)
	}
	_ = nsub.SetPendingLimits(-1, topicPendingBytes)
	ctx, cancel := context.WithTimeout(context.Background(), t.s.cfg.RequestTimeout)
	defer cancel()
	end, err := t.s.store.Last(ctx, tp.session)
	if err != nil {
		_ = nsub.Unsubscribe()
		return err
	}
	tp.nsub, tp.last = nsub, end.Seq
	t.s.m.topics.Inc()
	return nil
}

// replay sends history pages for (after, upTo]. upTo is where the
// transcript ended when the socket joined: events after it reach the
// socket live. An empty range still sends one (empty) page.
func (t *topics) replay(ctx context.Context, c *Conn, session string, after, upTo int64, page PageFunc) error {
	for first := true; first || after < upTo; first = false {
		p := Page{Session: session, After: after, Last: after}
		if after < upTo {
			// Never read past upTo (ReadAfter reads to the end for upTo 0).
			got, err := t.s.store.ReadAfter(ctx, session, after, upTo, t.s.cfg.HistoryPage, historyPageBytes)
			if err != nil {
				return err
			}
			p.Messages, p.Last = got.Messages, got.Last
			p.FirstSeq, p.Trimmed = got.FirstAvailable, got.Trimmed
		}
		p.HasMore = p.Last < upTo
		if err := c.ws.WaitQueueBelow(ctx, t.s.cfg.SendQueueBytes/2); err != nil {
			return err
		}
		if err := page(ctx, p); err != nil {
			return err
		}
		t.s.m.replayed.Add(float64(len(p.Messages)))
		if len(p.Messages) == 0 {
			return nil
		}
		after = p.Last
	}
	return nil
}

// onEvent delivers one live transcript event to the topic's subscribers.
// NATS calls it on the topic's own goroutine, one event at a time.
func (t *topics) onEvent(tp *topic, m *nats.Msg) {
	<-tp.ready
	if tp.err != nil {
		return
	}
	ctx, env, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil {
		t.s.log.Warn("undecodable transcript event", "subject", m.Subject, "err", err)
		return
	}
	tp.mu.Lock()
	last := tp.last
	tp.mu.Unlock()
	seq := env.GetSeq()
	if seq <= last {
		t.s.m.duplicates.Inc()
		return
	}
	if seq > last+1 && !t.repair(ctx, tp, last, seq-1) {
		return
	}
	t.deliver(ctx, tp, env)
}

// repair reads the events in (from, upTo] back from the transcript and
// delivers them, with no lock held while reading. False if the transcript
// could not be read (the event that revealed the gap is then dropped too,
// and the next one retries the repair).
func (t *topics) repair(ctx context.Context, tp *topic, from, upTo int64) bool {
	t.s.m.gaps.Inc()
	for from < upTo {
		page, err := t.s.store.ReadAfter(ctx, tp.session, from, upTo, repairPageMsgs, repairPageBytes)
		if err != nil || len(page.Messages) == 0 {
			t.s.log.Warn("gap repair failed", "session", tp.session, "from", from, "to", upTo, "err", err)
			return false
		}
		for _, env := range page.Messages {
			t.deliver(ctx, tp, env)
		}
		from = page.Last
	}
	return true
}

// deliver renders env (lazily, once per dialect and role present) and
// queues it on every subscriber; older seqs than the topic's last are
// dropped. Queuing never blocks, so topic.mu is held only for memory work.
func (t *topics) deliver(ctx context.Context, tp *topic, env *syv1.Envelope) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	seq := env.GetSeq()
	if seq <= tp.last {
		t.s.m.duplicates.Inc()
		return
	}
	_, span := t.s.tracer.Start(ctx, "gateway.fanout "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", tp.session), attribute.Int64("sy.seq", seq), attribute.Int("sy.subscribers", len(tp.subs))))
	defer span.End()
	tp.last = seq
	var r renders
	for c, sub := range tp.subs {
		if sub.overflowed || (sub.live && seq <= sub.after) {
			continue
		}
		f, ok := r.frame(t.s, c, env)
		if !ok {
			continue
		}
		if sub.live {
			c.sendLive(env, f)
			continue
		}
		t.hold(c, sub, env, f)
	}
	t.s.m.fanout.Observe(float64(len(tp.subs)))
}

// hold keeps a live frame for a subscriber still being replayed to, within
// the socket's send-queue limits. Called with topic.mu held.
func (t *topics) hold(c *Conn, sub *subscription, env *syv1.Envelope, f Frame) {
	seq := env.GetSeq()
	if len(sub.pending) >= t.s.cfg.SendQueueFrames || sub.pendingBytes+len(f.Data) > t.s.cfg.SendQueueBytes {
		sub.overflowed, sub.pending, sub.pendingBytes = true, nil, 0
		t.s.log.Warn("live backlog overflowed during replay; dropping the subscriber", "conn", c.id)
		return
	}
	sub.pending = append(sub.pending, pendingFrame{seq: seq, env: env, frame: f})
	sub.pendingBytes += len(f.Data)
}

// renders caches one event's frame per dialect and role: most topics have
// one or two, so a slice beats a map.
type renders []struct {
	d    Dialect
	role string
	f    Frame
	ok   bool
}

func (r *renders) frame(s *Server, c *Conn, env *syv1.Envelope) (Frame, bool) {
	for _, x := range *r {
		if x.d == c.d && x.role == string(c.role) {
			return x.f, x.ok
		}
	}
	f, err := c.d.Render(env, c.role)
	if err != nil {
		s.log.Error("event not renderable", "dialect", c.d.Name(), "type", env.GetType(), "err", err)
	}
	*r = append(*r, struct {
		d    Dialect
		role string
		f    Frame
		ok   bool
	}{c.d, string(c.role), f, err == nil})
	return f, err == nil
}

// leave removes c from session's topic; false if it was not there.
func (t *topics) leave(c *Conn, session string) bool {
	c.mu.Lock()
	sub, had := c.subs[session]
	delete(c.subs, session)
	c.mu.Unlock()
	if !had {
		return false
	}
	tp := sub.tp
	tp.mu.Lock()
	_, in := tp.subs[c]
	delete(tp.subs, c)
	tp.mu.Unlock()
	if in {
		t.release(tp)
	}
	return true
}

// leaveAll removes a finished socket from every topic.
func (t *topics) leaveAll(c *Conn) {
	c.mu.Lock()
	sessions := make([]string, 0, len(c.subs))
	for s := range c.subs {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		t.leave(c, s)
	}
}

// closeAll drops every NATS interest (shutdown).
func (t *topics) closeAll() {
	t.mu.Lock()
	all := t.m
	t.m = map[string]*topic{}
	t.mu.Unlock()
	for _, tp := range all {
		if tp.nsub != nil {
			_ = tp.nsub.Unsubscribe()
		}
	}
}
