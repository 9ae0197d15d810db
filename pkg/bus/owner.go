package bus

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// partition is one partition consumer of this replica: while this replica
// is pinned to it, the owner. Its messages are handled one at a time, in
// stream order; receive runs on the consumer's one delivery goroutine.
//
// Fresh messages arrive in stream order. Redeliveries need not: the server
// puts a redelivery it could not hand out (the partition was pinned to a
// replica that died) back at the end of its queue, so the messages a dead
// owner held reach the next one rotated. Such messages are held and handled
// lowest stream sequence first, each only once it is the lowest of the
// partition left in the stream (a work queue keeps exactly the unacked
// ones): one stream lookup per message, only after a takeover.
type partition struct {
	name    string
	filter  string
	stream  jetstream.Stream
	handler Handler
	stop    <-chan struct{}
	log     *slog.Logger
	hctx    context.Context // handlers' context: not cancelled by shutdown
	window  int
	wg      *sync.WaitGroup // handlers running

	mu sync.Mutex
	cc jetstream.ConsumeContext // replaced after a handover (balance.go)

	// For the balancer: messages handled here (it compares the count
	// between its rounds), and whether a handler is retrying (no handover
	// then).
	handled  atomic.Uint64
	retrying atomic.Bool

	// maxHandled is the highest stream sequence handled here; synced
	// says fresh messages may be handled as they come (nothing older is
	// left unhandled).
	maxHandled uint64
	synced     bool
	held       []heldMsg // sorted by stream sequence
	// abandoned: a message was left unacked (Stop during its retries),
	// so no later message of the partition may be handled here: they are
	// redelivered, in order, to the next owner.
	abandoned atomic.Bool
}

func (p *partition) receive(ctx context.Context, m jetstream.Msg) {
	if p.abandoned.Load() {
		return
	}
	md, err := m.Metadata()
	if err != nil {
		p.log.Error("dropping a message without JetStream metadata", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	seq := md.Sequence.Stream
	if seq <= p.maxHandled {
		p.handle(ctx, m, seq) // a copy of one handled here: handlers are idempotent
		return
	}
	if p.synced && md.NumDelivered == 1 && len(p.held) == 0 {
		p.handle(ctx, m, seq)
		return
	}
	p.hold(m, seq)
	p.drainHeld(ctx)
}

// heldMsg is a message waiting for the ones before it, with its stream
// sequence.
type heldMsg struct {
	m   jetstream.Msg
	seq uint64
}

// hold keeps m until it is the partition's lowest unacked message.
func (p *partition) hold(m jetstream.Msg, seq uint64) {
	i, found := slices.BinarySearchFunc(p.held, seq, func(h heldMsg, s uint64) int { return cmp.Compare(h.seq, s) })
	if found {
		p.held[i].m = m // a newer copy of the same message
		return
	}
	p.held = slices.Insert(p.held, i, heldMsg{m, seq})
}

// drainHeld handles held messages while the lowest of them is the lowest
// message of the partition still in the stream.
func (p *partition) drainHeld(ctx context.Context) {
	for len(p.held) > 0 && !p.abandoned.Load() {
		low, err := p.lowest(ctx)
		if err != nil {
			p.log.Warn("partition order lookup failed; held messages wait for their redelivery", "consumer", p.name, "err", err)
			return
		}
		m, seq := p.held[0].m, p.held[0].seq
		switch {
		case low == 0 || seq < low: // gone from the stream: another owner acked it
			p.held = p.held[1:]
			_ = m.Ack()
			if seq > p.maxHandled {
				p.maxHandled = seq
			}
		case seq == low:
			p.held = p.held[1:]
			p.handle(ctx, m, seq)
		default:
			return // an older message is still on its way
		}
	}
	p.synced = len(p.held) == 0
}

// lowest is the stream sequence of the partition's oldest message after
// maxHandled (0: none).
func (p *partition) lowest(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := p.stream.GetMsg(ctx, p.maxHandled+1, jetstream.WithGetMsgSubject(p.filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return raw.Sequence, nil
}

// handle runs the handler over m, retrying a failure until it succeeds or
// Stop abandons it: the next message of the partition is handled only
// after this one is acked or terminated. A retried message is not kept in
// progress: should this replica lose the partition while it retries (no
// pull for PinnedTTL), the message is due for redelivery with the ones
// behind it, so the next owner starts from it; what both then handle is
// handled twice, which handlers are built for.
func (p *partition) handle(ctx context.Context, m jetstream.Msg, seq uint64) {
	for attempt := 1; ; attempt++ {
		mctx, env, err := Decode(ctx, m.Data(), m.Headers())
		mctx = context.WithValue(mctx, subjectKey{}, m.Subject())
		if err == nil {
			err = p.handler(mctx, env)
		}
		switch {
		case err == nil:
			if aerr := m.Ack(); aerr != nil {
				p.log.Warn("ack failed; message will be redelivered", "subject", m.Subject(), "err", aerr)
			}
			p.maxHandled = max(p.maxHandled, seq)
			p.handled.Add(1)
			p.retrying.Store(false)
			return
		case errors.Is(err, ErrPoison) || env == nil:
			p.log.Error("dropping unprocessable message", "subject", m.Subject(), "err", err)
			_ = m.Term()
			p.maxHandled = max(p.maxHandled, seq)
			p.retrying.Store(false)
			return
		}
		p.retrying.Store(true)
		delay := retryDelay(attempt)
		p.log.Warn("handler failed; retrying", "subject", m.Subject(), "type", env.GetType(), "err", err, "attempt", attempt, "delay", delay)
		select {
		case <-p.stop:
			p.abandoned.Store(true)
			return
		case <-time.After(delay):
		}
	}
}

// newEpoch forgets the order state of an ownership that ended (a handover
// with nothing unacked): the next message is checked against the stream.
// Only while no handler runs.
func (p *partition) newEpoch() {
	p.synced, p.held = false, nil
}

// retryDelay is the wait before a failed handler's attempt+1: 100 ms,
// then 250 ms more per attempt, at most 5 s.
func retryDelay(attempt int) time.Duration {
	if attempt <= 1 {
		return 100 * time.Millisecond
	}
	return min(time.Duration(attempt)*250*time.Millisecond, 5*time.Second)
}
