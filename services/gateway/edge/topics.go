package edge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// topics is the gateway's live fan-out. For every session with at least
// one local subscriber the pod holds one core NATS subscription on the
// session's transcript subject: the session service's append to SY_EVT is
// also a core publish, so each event reaches each interested pod once, is
// rendered to JSON once, and is queued by reference on every local socket.
// No Redis lookup happens per frame.
//
// Order and exactly-once: each topic remembers the last seq it delivered.
// An older seq is a duplicate and dropped; a newer one than expected means
// core NATS lost something (reconnect, slow consumer), and the gap is read
// back from the transcript before the new event is delivered.
type topics struct {
	s  *Server
	mu sync.Mutex
	m  map[string]*topic
}

type topic struct {
	session string
	mu      sync.Mutex
	last    int64
	subs    map[*socket]*subscription
	nsub    *nats.Subscription
	err     error
}

// subscription is one socket following one session.
type subscription struct {
	after   int64 // the socket has everything up to here
	live    bool  // history sent: live frames go straight to the socket
	pending []pendingFrame
}

type pendingFrame struct {
	seq   int64
	frame []byte
}

func newTopics(s *Server) *topics { return &topics{s: s, m: map[string]*topic{}} }

// join subscribes sk to session: history after after_seq, then live.
func (t *topics) join(ctx context.Context, sk *socket, session string, after int64) error {
	t.leave(sk, session)
	sub := &subscription{after: after}
	tp, boundary, err := t.attach(sk, session, sub)
	if err != nil {
		return err
	}
	sk.mu.Lock()
	if sk.subs == nil {
		sk.subs = map[string]*subscription{}
	}
	sk.subs[session] = sub
	sk.mu.Unlock()
	if err := t.replay(ctx, sk, session, after, boundary); err != nil {
		t.leave(sk, session)
		return err
	}
	tp.mu.Lock()
	for _, p := range sub.pending {
		if p.seq > sub.after {
			t.s.send(sk, p.frame)
		}
	}
	sub.pending, sub.live = nil, true
	tp.mu.Unlock()
	return nil
}

// attach registers sub on the session's topic, creating the topic (and
// its NATS interest) if needed, and returns the seq up to which the
// subscriber must be served from history.
func (t *topics) attach(sk *socket, session string, sub *subscription) (*topic, int64, error) {
	t.mu.Lock()
	tp := t.m[session]
	fresh := tp == nil
	if fresh {
		tp = &topic{session: session, subs: map[*socket]*subscription{}}
		t.m[session] = tp
	}
	tp.mu.Lock()
	tp.subs[sk] = sub
	t.mu.Unlock()
	defer tp.mu.Unlock()
	if fresh {
		tp.err = t.open(tp)
	}
	if tp.err != nil {
		delete(tp.subs, sk)
		t.mu.Lock()
		if len(tp.subs) == 0 && t.m[session] == tp {
			delete(t.m, session)
		}
		t.mu.Unlock()
		return nil, 0, tp.err
	}
	return tp, tp.last, nil
}

// open subscribes to the session's live events and learns where its
// transcript ends; events up to there are served from history. Called
// with tp.mu held, so live events wait until it is done.
func (t *topics) open(tp *topic) error {
	nsub, err := t.s.bus.NC.Subscribe(bus.LiveSubject(tp.session), func(m *nats.Msg) { t.onEvent(tp, m) })
	if err != nil {
		return fmt.Errorf("gateway: follow %s: %w", tp.session, err)
	}
	_ = nsub.SetPendingLimits(-1, 64<<20)
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

// replay sends history.response frames for (after, upTo].
func (t *topics) replay(ctx context.Context, sk *socket, session string, after, upTo int64) error {
	first := true
	for first || after < upTo {
		page, err := t.s.store.ReadAfter(ctx, session, after, upTo, t.s.cfg.HistoryPage, 1<<20)
		if err != nil {
			return err
		}
		hr := &syv1.HistoryResponse{SessionId: session, AfterSeq: after, LastSeq: page.Last, HasMore: page.Last < upTo, Messages: page.Messages}
		if !hr.HasMore {
			if hr.PendingPermissions, err = t.pendingPermissions(ctx, session); err != nil {
				return err
			}
		}
		hist := &syv1.Envelope{Type: amurg.TypeHistoryResponse, SessionId: session, Ts: amurg.Timestamp(time.Now()),
			Body: &syv1.Envelope_HistoryResponse{HistoryResponse: hr}}
		if err := sk.conn.WaitQueueBelow(ctx, t.s.cfg.SendQueueBytes/2); err != nil {
			return err
		}
		if err := t.s.sendEnvelope(sk, hist); err != nil {
			return err
		}
		t.s.m.replayed.Add(float64(len(page.Messages)))
		if len(page.Messages) == 0 {
			return nil
		}
		after, first = page.Last, false
	}
	return nil
}

// pendingPermissions are the session's unanswered permission requests, as
// the permission.request frames a reconnecting client may have missed.
func (t *topics) pendingPermissions(ctx context.Context, session string) ([]*syv1.Envelope, error) {
	recs, err := t.s.cat.PendingPermissions(ctx, session)
	if err != nil {
		return nil, err
	}
	out := make([]*syv1.Envelope, 0, len(recs))
	for _, r := range recs {
		out = append(out, &syv1.Envelope{Type: amurg.TypePermissionRequest, SessionId: session, Seq: r.GetSeq(),
			Body: &syv1.Envelope_PermissionRequest{PermissionRequest: r.GetRequest()}})
	}
	return out, nil
}

// onEvent delivers one live transcript event to the topic's subscribers.
func (t *topics) onEvent(tp *topic, m *nats.Msg) {
	ctx, env, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil {
		t.s.log.Warn("undecodable transcript event", "subject", m.Subject, "err", err)
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	seq := env.GetSeq()
	if seq <= tp.last {
		t.s.m.duplicates.Inc()
		return
	}
	if seq > tp.last+1 && !t.repair(ctx, tp, seq-1) {
		return
	}
	t.deliver(ctx, tp, env)
}

// repair reads the events between the topic's last seq and upTo back from
// the transcript and delivers them. False if the transcript could not be
// read (the event that revealed the gap is then dropped too, and the next
// one retries the repair).
func (t *topics) repair(ctx context.Context, tp *topic, upTo int64) bool {
	t.s.m.gaps.Inc()
	for tp.last < upTo {
		page, err := t.s.store.ReadAfter(ctx, tp.session, tp.last, upTo, 1000, 8<<20)
		if err != nil || len(page.Messages) == 0 {
			t.s.log.Warn("gap repair failed", "session", tp.session, "from", tp.last, "to", upTo, "err", err)
			return false
		}
		for _, env := range page.Messages {
			t.deliver(ctx, tp, env)
		}
	}
	return true
}

// deliver renders env once and queues it on every subscriber. Called with
// tp.mu held.
func (t *topics) deliver(ctx context.Context, tp *topic, env *syv1.Envelope) {
	_, span := t.s.tracer.Start(ctx, "gateway.fanout "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", tp.session), attribute.Int64("sy.seq", env.GetSeq()), attribute.Int("sy.subscribers", len(tp.subs))))
	defer span.End()
	tp.last = env.GetSeq()
	frame, err := amurg.Encode(env, amurg.RoleClient)
	if err != nil {
		t.s.log.Error("transcript event not renderable", "type", env.GetType(), "err", err)
		return
	}
	for sk, sub := range tp.subs {
		switch {
		case !sub.live:
			sub.pending = append(sub.pending, pendingFrame{seq: env.GetSeq(), frame: frame})
		case env.GetSeq() > sub.after:
			t.s.send(sk, frame)
		}
	}
	t.s.m.fanout.Observe(float64(len(tp.subs)))
}

// leave removes sk from session's topic; false if it was not there.
func (t *topics) leave(sk *socket, session string) bool {
	sk.mu.Lock()
	_, had := sk.subs[session]
	delete(sk.subs, session)
	sk.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	tp := t.m[session]
	if tp == nil {
		return had
	}
	tp.mu.Lock()
	delete(tp.subs, sk)
	empty := len(tp.subs) == 0
	tp.mu.Unlock()
	if empty {
		delete(t.m, session)
		if tp.nsub != nil {
			_ = tp.nsub.Unsubscribe()
			t.s.m.topics.Dec()
		}
	}
	return had
}

// leaveAll removes a finished socket from every topic.
func (t *topics) leaveAll(sk *socket) {
	sk.mu.Lock()
	sessions := make([]string, 0, len(sk.subs))
	for s := range sk.subs {
		sessions = append(sessions, s)
	}
	sk.mu.Unlock()
	for _, s := range sessions {
		t.leave(sk, s)
	}
}

// closeAll drops every NATS interest (shutdown).
func (t *topics) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s, tp := range t.m {
		if tp.nsub != nil {
			_ = tp.nsub.Unsubscribe()
		}
		delete(t.m, s)
	}
}
