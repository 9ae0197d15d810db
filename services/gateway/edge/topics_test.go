package edge

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// TestReplayBacklogIsBounded: live events held for a subscriber still
// being replayed to stop at the send-queue limits; past them the
// subscriber is marked for dropping (close replay_overflow when its replay
// ends) and holds nothing more, and the topic goes on.
func TestReplayBacklogIsBounded(t *testing.T) {
	cfg := Defaults()
	cfg.SendQueueFrames, cfg.SendQueueBytes = 8, 1<<20
	s := &Server{cfg: cfg, tracer: noop.NewTracerProvider().Tracer(""), log: slog.New(slog.NewTextHandler(io.Discard, nil)), conns: map[string]*Conn{}}
	s.m = newMetrics(prometheus.NewRegistry(), s)
	tps := newTopics(s)
	d := &probe{}
	replaying := &Conn{id: "r", s: s, d: d, role: kind.RoleClient}
	tp := &topic{session: "s", subs: map[*Conn]*subscription{}, ready: make(chan struct{})}
	sub := &subscription{tp: tp}
	tp.subs[replaying] = sub
	for seq := int64(1); seq <= int64(cfg.SendQueueFrames); seq++ {
		tps.deliver(context.Background(), tp, &syv1.Envelope{Type: "agent.output", Seq: seq})
	}
	if sub.overflowed || len(sub.pending) != cfg.SendQueueFrames {
		t.Fatalf("at the limit: overflowed %v, %d pending; want false, %d", sub.overflowed, len(sub.pending), cfg.SendQueueFrames)
	}
	tps.deliver(context.Background(), tp, &syv1.Envelope{Type: "agent.output", Seq: int64(cfg.SendQueueFrames) + 1})
	if !sub.overflowed || len(sub.pending) != 0 || sub.pendingBytes != 0 {
		t.Fatalf("past the limit: overflowed %v, %d pending (%d bytes); want true, 0", sub.overflowed, len(sub.pending), sub.pendingBytes)
	}
	if tp.last != int64(cfg.SendQueueFrames)+1 {
		t.Errorf("topic last %d, want %d", tp.last, cfg.SendQueueFrames+1)
	}
}
