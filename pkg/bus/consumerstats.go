package bus

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// ConsumerStatsEvery is how often WatchConsumers reads consumer state.
const ConsumerStatsEvery = 10 * time.Second

// WatchConsumers polls, every `every` until ctx ends, the state of the
// durable consumers of streams whose names start with prefix (one
// consumer-list call per stream, never per message) and exports it:
//
//	switchyard_jetstream_consumer_pending{stream,consumer}      messages not yet delivered
//	switchyard_jetstream_consumer_ack_pending{stream,consumer}  delivered, not yet acknowledged
//	switchyard_jetstream_consumer_redelivered{stream,consumer}  delivered more than once, not yet acknowledged
//
// Every replica of a service reports the same shared consumers: aggregate
// with max by (stream, consumer).
func (b *Bus) WatchConsumers(ctx context.Context, reg prometheus.Registerer, log *slog.Logger, every time.Duration, prefix string, streams ...string) {
	labels := []string{"stream", "consumer"}
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_jetstream_consumer_pending", Help: "Messages of the consumer's filter not yet delivered (JetStream num_pending), polled."}, labels)
	ackPending := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_jetstream_consumer_ack_pending", Help: "Messages delivered and not yet acknowledged (num_ack_pending), polled."}, labels)
	redelivered := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_jetstream_consumer_redelivered", Help: "Messages delivered more than once and not yet acknowledged (num_redelivered), polled."}, labels)
	reg.MustRegister(pending, ackPending, redelivered)
	poll := func() {
		for _, name := range streams {
			pctx, cancel := context.WithTimeout(ctx, every)
			err := b.EachConsumer(pctx, name, prefix, func(ci *jetstream.ConsumerInfo) {
				pending.WithLabelValues(name, ci.Name).Set(float64(ci.NumPending))
				ackPending.WithLabelValues(name, ci.Name).Set(float64(ci.NumAckPending))
				redelivered.WithLabelValues(name, ci.Name).Set(float64(ci.NumRedelivered))
			})
			cancel()
			if err != nil {
				log.Debug("consumer stats: not readable", "stream", name, "err", err)
			}
		}
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			poll()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// EachConsumer calls f with the state of every consumer of stream whose
// name starts with prefix: one consumer-list call.
func (b *Bus) EachConsumer(ctx context.Context, stream, prefix string, f func(*jetstream.ConsumerInfo)) error {
	st, err := b.JS.Stream(ctx, stream)
	if err != nil {
		return err
	}
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if strings.HasPrefix(ci.Name, prefix) {
			f(ci)
		}
	}
	return l.Err()
}
