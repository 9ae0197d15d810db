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
// StreamInbound: session-p0 … session-p<N-1>.
const DurableSession = "session"

// PartitionConsumer is the durable name of partition p's consumer.
func PartitionConsumer(durable string, p int) string { return durable + "-p" + strconv.Itoa(p) }

// ParsePartitionConsumer reads a name made by PartitionConsumer.
func ParsePartitionConsumer(name string) (durable string, p int, ok bool) {
	i := strings.LastIndex(name, "-p")
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.Atoi(name[i+2:])
	if err != nil || p < 0 {
		return "", 0, false
	}
	return name[:i], p, true
}

// PartitionOptions configures ConsumePartitions.
type PartitionOptions struct {
	Stream string // StreamInbound() or StreamRuntime()
	// Durable name prefix, e.g. "session" → consumers session-p0 … session-pN.
	Durable    string
	Partitions int
	// AckWait is how long a message may stay unacked before JetStream
	// hands it to another replica: the failover time after a crash.
	AckWait time.Duration
	Log     *slog.Logger
}

// Partitions is a running set of partition consumers.
type Partitions struct {
	ccs []jetstream.ConsumeContext
	wg  sync.WaitGroup
}

// ConsumePartitions runs handler over every partition of a stream. Each
// partition has one durable consumer with MaxAckPending 1, shared by all
// replicas: at most one message of a partition is in flight anywhere, which
// keeps per-session order across replicas and across crashes.
func (b *Bus) ConsumePartitions(ctx context.Context, o PartitionOptions, handler Handler) (*Partitions, error) {
	stream, err := b.JS.Stream(ctx, o.Stream)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", o.Stream, err)
	}
	prefix := namespace.Subject(prefixInbound)
	if o.Stream == StreamRuntime() {
		prefix = namespace.Subject(prefixRuntime)
	}
	p := &Partitions{}
	for i := 0; i < o.Partitions; i++ {
		cc, err := b.consumePartition(ctx, stream, o, prefix+strconv.Itoa(i)+".>", PartitionConsumer(o.Durable, i), handler, &p.wg)
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.ccs = append(p.ccs, cc)
	}
	return p, nil
}

func (b *Bus) consumePartition(ctx context.Context, stream jetstream.Stream, o PartitionOptions, filter, durable string, handler Handler, wg *sync.WaitGroup) (jetstream.ConsumeContext, error) {
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		BackOff:       nil,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", durable, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		wg.Add(1)
		defer wg.Done()
		b.handle(ctx, o.Log, m, handler)
	}, jetstream.PullMaxMessages(8), jetstream.PullExpiry(PullExpiry))
	if err != nil {
		return nil, fmt.Errorf("bus: consume %s: %w", durable, err)
	}
	return cc, nil
}

func (b *Bus) handle(ctx context.Context, log *slog.Logger, m jetstream.Msg, handler Handler) {
	mctx, env, err := Decode(ctx, m.Data(), m.Headers())
	mctx = context.WithValue(mctx, subjectKey{}, m.Subject())
	if err == nil {
		err = handler(mctx, env)
	}
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			log.Warn("ack failed; message will be redelivered", "subject", m.Subject(), "err", aerr)
		}
	case errors.Is(err, ErrPoison) || env == nil:
		log.Error("dropping unprocessable message", "subject", m.Subject(), "err", err)
		_ = m.Term()
	default:
		md, _ := m.Metadata()
		delay := 100 * time.Millisecond
		if md != nil && md.NumDelivered > 1 {
			delay = min(time.Duration(md.NumDelivered)*250*time.Millisecond, 5*time.Second)
		}
		log.Warn("handler failed; redelivering", "subject", m.Subject(), "type", env.GetType(), "err", err, "delay", delay)
		_ = m.NakWithDelay(delay)
	}
}

// Stop stops pulling new messages and waits for in-flight handlers, so
// their acks are sent before the process exits.
func (p *Partitions) Stop() {
	for _, cc := range p.ccs {
		cc.Stop()
	}
	p.wg.Wait()
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
