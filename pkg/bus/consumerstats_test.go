package bus_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// TestWatchConsumers: the poll exports pending, ack-pending and
// redelivered counts of the service's own consumers, and not of others.
func TestWatchConsumers(t *testing.T) {
	_, b := testenv.Streams(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 3 {
		env := &syv1.Envelope{Type: "user.message", Id: string(rune('a' + i)), SessionId: "s1"}
		if _, err := b.Publish(ctx, "sy.in.0.s1", env); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.JS.Stream(ctx, bus.StreamInbound())
	if err != nil {
		t.Fatal(err)
	}
	mine, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "session-p0", FilterSubject: "sy.in.0.>", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxAckPending: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "other-p0", FilterSubject: "sy.in.1.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b.WatchConsumers(ctx, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), 50*time.Millisecond, "session-p", bus.StreamInbound())
	pending := func(metric string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != metric {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "consumer" && l.GetValue() == "other-p0" {
						t.Fatalf("%s reports another service's consumer", metric)
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		return -1
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("3 pending", func() bool { return pending("switchyard_jetstream_consumer_pending") == 3 })
	// Take one, give it back, take it again (its second delivery) and hold it.
	for i := range 2 {
		msgs, err := mine.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range msgs.Messages() {
			if i == 0 {
				_ = m.Nak()
			}
		}
	}
	wait("1 redelivered, 1 ack pending, 2 pending", func() bool {
		return pending("switchyard_jetstream_consumer_redelivered") == 1 && pending("switchyard_jetstream_consumer_ack_pending") == 1 &&
			pending("switchyard_jetstream_consumer_pending") == 2
	})
}
