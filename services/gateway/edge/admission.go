package edge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

// Admission control (SY_INGEST_MAX_LAG, SY_INGEST_MAX_BACKLOG): when the
// session service is behind on a partition of SY_IN — its backlog would
// take more than the lag bound to drain at the partition's measured rate
// (and is over minLagBacklog frames), or is over the count bound whatever
// the rate — runtime sockets whose next frame goes to that partition stop
// being read until it is back under both bounds. The pressure reaches the runtime as TCP backpressure instead of
// a backlog in the stream: past the ceiling, the hub spends its CPU on
// frames it can deliver rather than on storing ones it cannot (issue 13,
// "overload degrades gracefully"). Client sockets are never paused.
//
// The backlog is read from the partition consumers (one consumer-list
// call per pod every admissionPoll, never per frame); a frame checks one
// atomic counter. A poll that fails admits everything (the stream stays
// the buffer, as without the bound). A frame waits at most
// admissionMaxWait, so a paused runtime still gets a frame through (and
// its pings answered) that often.
const (
	admissionPoll    = 250 * time.Millisecond
	admissionMaxWait = 5 * time.Second
	// minLagBacklog: a partition with fewer frames waiting is never
	// paused for lag (a short stall of an idle partition is not overload).
	minLagBacklog = 100
	// rateSmoothing weighs each poll's drain rate into the partition's
	// moving average (exponential, ≈ the last 1 s at 250 ms polls).
	rateSmoothing = 0.3
)

type admission struct {
	max        int64         // frames; 0: no count bound
	maxLag     time.Duration // 0: no lag bound
	partitions int
	backlog    []atomic.Int64 // per partition, from the last poll
	over       []atomic.Bool  // per partition: pause its runtime frames

	// Drain rate per partition, owned by the poller.
	acked  []uint64  // ack floor (consumer sequence) at the last poll
	rate   []float64 // frames/s, moving average
	lastAt time.Time

	mu      sync.Mutex
	changed chan struct{} // closed after each poll

	paused prometheus.Counter
	waited prometheus.Histogram
}

// newAdmission returns nil (admit everything) when both bounds are 0.
func newAdmission(max int64, maxLag time.Duration, partitions int, reg prometheus.Registerer) *admission {
	if max <= 0 && maxLag <= 0 {
		return nil
	}
	a := &admission{
		max: max, maxLag: maxLag, partitions: partitions, changed: make(chan struct{}),
		backlog: make([]atomic.Int64, partitions), over: make([]atomic.Bool, partitions),
		acked: make([]uint64, partitions), rate: make([]float64, partitions),
		paused: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_ingest_paused_total",
			Help: "Runtime frames that waited because their SY_IN partition was over SY_INGEST_MAX_LAG or SY_INGEST_MAX_BACKLOG."}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_gateway_ingest_pause_seconds",
			Help: "How long a paused runtime frame waited for its partition's backlog to fall.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 10)}),
	}
	largest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_ingest_backlog_max",
		Help: "Largest SY_IN partition backlog (undelivered + unacknowledged) at the last poll."}, func() float64 { return float64(a.largest()) })
	reg.MustRegister(a.paused, a.waited, largest)
	return a
}

func (a *admission) largest() int64 {
	var m int64
	for i := range a.backlog {
		m = max(m, a.backlog[i].Load())
	}
	return m
}

// run polls the partition consumers until ctx ends.
func (a *admission) run(ctx context.Context, b *bus.Bus, log *slog.Logger) {
	t := time.NewTicker(admissionPoll)
	defer t.Stop()
	for {
		if err := a.poll(ctx, b); err != nil && ctx.Err() == nil {
			log.Debug("ingest admission: consumers not readable; admitting", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *admission) poll(ctx context.Context, b *bus.Bus) error {
	pctx, cancel := context.WithTimeout(ctx, 2*admissionPoll)
	defer cancel()
	next := make([]int64, a.partitions)
	acked := make([]uint64, a.partitions)
	err := b.EachConsumer(pctx, bus.StreamInbound(), bus.PartitionConsumerPrefix(bus.DurableSession), func(ci *jetstream.ConsumerInfo) {
		if _, p, ok := bus.ParsePartitionConsumer(ci.Name); ok && p < a.partitions {
			next[p] = int64(ci.NumPending) + int64(ci.NumAckPending)
			acked[p] = ci.AckFloor.Consumer
		}
	})
	now := time.Now()
	for i := range next {
		if err != nil { // fail open: admit everything
			a.backlog[i].Store(0)
			a.over[i].Store(false)
			continue
		}
		a.backlog[i].Store(next[i])
		a.over[i].Store(a.behind(i, next[i], acked[i], now))
	}
	if err == nil {
		a.lastAt = now
	}
	a.mu.Lock()
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	return err
}

// behind updates partition p's drain rate from its ack floor and reports
// whether its backlog is over a bound.
func (a *admission) behind(p int, backlog int64, acked uint64, now time.Time) bool {
	rate := a.rate[p]
	if !a.lastAt.IsZero() && acked >= a.acked[p] {
		if dt := now.Sub(a.lastAt).Seconds(); dt > 0 {
			inst := float64(acked-a.acked[p]) / dt
			a.rate[p] += rateSmoothing * (inst - a.rate[p])
			// A burst on a quiet partition: the average still remembers
			// the quiet; what it drained since the last poll counts too.
			rate = max(a.rate[p], inst)
		}
	}
	a.acked[p] = acked
	if a.max > 0 && backlog > a.max {
		return true
	}
	return a.maxLag > 0 && backlog > minLagBacklog && float64(backlog) > rate*a.maxLag.Seconds()
}

// pauses reports whether wait would pause a frame for partition p now.
func (a *admission) pauses(p int) bool { return a != nil && a.over[p].Load() }

// wait returns when partition p (bus.Partition of a frame's session) is no
// longer behind, after admissionMaxWait, or when ctx ends.
func (a *admission) wait(ctx context.Context, p int) {
	if !a.pauses(p) {
		return
	}
	a.paused.Inc()
	start := time.Now()
	defer func() { a.waited.Observe(time.Since(start).Seconds()) }()
	limit := time.NewTimer(admissionMaxWait)
	defer limit.Stop()
	for a.over[p].Load() {
		a.mu.Lock()
		changed := a.changed
		a.mu.Unlock()
		select {
		case <-changed:
		case <-limit.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
