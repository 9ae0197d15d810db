package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/namespace"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Handler processes one envelope from an ordered partition. A nil error
// acks the message; an error makes JetStream redeliver it after a delay, so
// handlers must be idempotent (they are: every output carries a dedupe id).
type Handler func(ctx context.Context, env *syv1.Envelope) error

// ErrPoison marks an envelope that can never be processed; it is logged
// and terminated instead of redelivered.
var ErrPoison = errors.New("poison message")

// PullExpiry is how long one pull request of a partition consumer lives
// (its idle heartbeat is half of it). nats.go's default, 30 s, notices a
// pull lost with a dead consumer leader (an R3 node killed) only after two
// missed 15 s heartbeats: half a minute without consuming. 5 s bounds that
// to 5 s for one pull request per consumer per 5 s.
const PullExpiry = 5 * time.Second

// DurableSession names the session service's partition consumers of
// StreamInbound: session-owned-p0 … session-owned-p<N-1>.
const DurableSession = "session"

// PartitionGroup is the priority group of every partition consumer: the
// replica pinned to it owns the partition.
const PartitionGroup = "owner"

// DefaultWindow is how many messages of one partition its owner holds at a
// time when PartitionOptions.Window is zero.
const DefaultWindow = 32

// PartitionConsumer is the durable name of partition p's consumer.
func PartitionConsumer(durable string, p int) string {
	return PartitionConsumerPrefix(durable) + strconv.Itoa(p)
}

// PartitionConsumerPrefix is what the names of durable's partition
// consumers start with.
func PartitionConsumerPrefix(durable string) string { return durable + "-owned-p" }

// legacyConsumer is partition p's consumer before partitions had owners
// (MaxAckPending 1, shared by every replica), deleted on start-up.
func legacyConsumer(durable string, p int) string { return durable + "-p" + strconv.Itoa(p) }

// ParsePartitionConsumer reads a name made by PartitionConsumer.
func ParsePartitionConsumer(name string) (durable string, p int, ok bool) {
	i := strings.LastIndex(name, "-owned-p")
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.Atoi(name[i+len("-owned-p"):])
	if err != nil || p < 0 {
		return "", 0, false
	}
	return name[:i], p, true
}

// PartitionOptions configures ConsumePartitions.
type PartitionOptions struct {
	Stream string // StreamInbound() or StreamRuntime()
	// Durable name prefix, e.g. "session" → consumers session-owned-p0 ….
	Durable    string
	Partitions int
	// AckWait is how long a message may stay unacked before JetStream
	// hands it out again. A dead owner's partition moves to another
	// replica after PinnedTTL(AckWait).
	AckWait time.Duration
	// Window is how many messages of a partition its owner holds unacked
	// (0: DefaultWindow). They are handled one at a time, in order.
	Window int
	// Member names this replica (its pod) among the replicas consuming
	// the same partitions: partitions are balanced over the members
	// (balance.go). Empty: no balancing, the first replica keeps what it
	// owns.
	Member string
	Log    *slog.Logger
}

// PinnedTTL is how long a partition stays with a replica that stopped
// pulling: longer than AckWait plus one pull's lifetime, so that every
// message the old owner held is due for redelivery before a new owner
// pulls, and the new owner gets them before anything newer.
func PinnedTTL(ackWait time.Duration) time.Duration { return ackWait + PullExpiry + time.Second }

// Partitions is a running set of partition consumers.
type Partitions struct {
	stream jetstream.Stream
	parts  []*partition
	wg     sync.WaitGroup
	stop   chan struct{}
	nc     *nats.Conn
	log    *slog.Logger
	bal    *balancer // nil without PartitionOptions.Member
}

// ConsumePartitions runs handler over every partition of a stream. Each
// partition has one durable consumer shared by all replicas, with a pinned
// priority group: one replica at a time owns a partition and handles its
// messages in stream order, up to Window of them pulled ahead, which keeps
// per-session order across replicas and across crashes. A handler error
// is retried in place (a nak would let later messages pass it).
func (b *Bus) ConsumePartitions(ctx context.Context, o PartitionOptions, handler Handler) (*Partitions, error) {
	stream, err := b.JS.Stream(ctx, o.Stream)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", o.Stream, err)
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	prefix := namespace.Subject(prefixInbound)
	if o.Stream == StreamRuntime() {
		prefix = namespace.Subject(prefixRuntime)
	}
	p := &Partitions{stream: stream, stop: make(chan struct{}), nc: b.NC, log: o.Log}
	// Handlers finish what they started when ctx ends: Stop drains.
	hctx := context.WithoutCancel(ctx)
	for i := 0; i < o.Partitions; i++ {
		part, err := consumePartition(ctx, hctx, stream, o, prefix+strconv.Itoa(i)+".>", i, handler, p)
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.parts = append(p.parts, part)
	}
	if o.Member != "" {
		if p.bal, err = startBalancer(p, o.Durable, o.Member); err != nil {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

func consumePartition(ctx, hctx context.Context, stream jetstream.Stream, o PartitionOptions, filter string, i int, handler Handler, ps *Partitions) (*partition, error) {
	// A work-queue stream takes one consumer per subject: the shared
	// consumer of earlier versions goes first. A message its replica
	// still holds stays in the stream and comes first from the new one.
	if err := stream.DeleteConsumer(ctx, legacyConsumer(o.Durable, i)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("bus: delete consumer %s: %w", legacyConsumer(o.Durable, i), err)
	}
	part := &partition{name: PartitionConsumer(o.Durable, i), filter: filter, stream: stream, handler: handler, stop: ps.stop, log: o.Log,
		hctx: hctx, window: o.Window, wg: &ps.wg}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:        part.name,
		FilterSubject:  filter,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        o.AckWait,
		MaxAckPending:  o.Window,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		MaxDeliver:     -1,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{PartitionGroup},
		PinnedTTL:      PinnedTTL(o.AckWait),
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", part.name, err)
	}
	if err := part.start(cons); err != nil {
		return nil, err
	}
	return part, nil
}

// start consumes the partition through cons (again, after a handover).
func (p *partition) start(cons jetstream.Consumer) error {
	cc, err := cons.Consume(func(m jetstream.Msg) {
		p.wg.Add(1)
		defer p.wg.Done()
		p.receive(p.hctx, m)
	}, jetstream.PullMaxMessages(p.window), jetstream.PullExpiry(PullExpiry), jetstream.PullPriorityGroup(PartitionGroup))
	if err != nil {
		return fmt.Errorf("bus: consume %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.cc = cc
	p.mu.Unlock()
	return nil
}

// consuming is the partition's current consume context.
func (p *partition) consuming() jetstream.ConsumeContext {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cc
}

// Stop stops pulling, handles the messages already pulled and waits for
// them, so their acks are sent before the process exits; then hands each
// partition it owned with nothing unacked straight to another replica. A
// handler still retrying is abandoned: its partition keeps the pin until
// PinnedTTL, so that message is redelivered before anything newer.
func (p *Partitions) Stop() {
	select {
	case <-p.stop:
		return // stopped before
	default:
	}
	close(p.stop)
	if p.bal != nil {
		p.bal.close() // no handover starts or restarts a consumer after this
	}
	for _, part := range p.parts {
		part.consuming().Drain()
	}
	drained := time.After(30 * time.Second)
	for _, part := range p.parts {
		select {
		case <-part.consuming().Closed():
		case <-drained:
		}
	}
	p.wg.Wait()
	p.release(p.parts...)
}

// release unpins drained partitions: once their last acks reach the
// server, each with nothing unacked goes to the next replica that pulls.
func (p *Partitions) release(parts ...*partition) {
	_ = p.nc.FlushTimeout(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, part := range parts {
		p.unpin(ctx, part)
	}
}

// unpin releases part's pin once none of its messages is unacked (acks
// are processed by the server shortly after they are flushed).
func (p *Partitions) unpin(ctx context.Context, part *partition) {
	if part.abandoned.Load() {
		return
	}
	cons, err := p.stream.Consumer(ctx, part.name)
	if err != nil {
		return
	}
	for settle := time.Now().Add(time.Second); ; {
		ci, err := cons.Info(ctx)
		if err != nil {
			return
		}
		if ci.NumAckPending == 0 {
			break
		}
		if time.Now().After(settle) {
			return
		}
		time.Sleep(20 * time.Millisecond) // no event for "acks processed"
	}
	if err := p.stream.UnpinConsumer(ctx, part.name, PartitionGroup); err != nil {
		p.log.Debug("partition not unpinned; it moves after the pinned TTL", "consumer", part.name, "err", err)
	}
}

// ConsumerReady reports why a process consuming partitions p over b is not
// ready (nil: ready).
func ConsumerReady(b *Bus, p *Partitions) error {
	if !b.Ready() {
		return errors.New("nats not connected")
	}
	if p == nil {
		return errors.New("not consuming yet")
	}
	return nil
}

type subjectKey struct{}

// Subject is the subject of the stream message a partition handler is
// processing ("" outside one): its spans' messaging.destination.name.
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}
