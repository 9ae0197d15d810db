package process

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisProbeEvery is how often a process checks its Redis connection for
// switchyard_redis_connected.
const redisProbeEvery = 5 * time.Second

// natsMetrics are the NATS client's health: connected (1/0) and the
// reconnects since the process started (nats.go's own count).
func natsMetrics(reg prometheus.Registerer, nc *nats.Conn) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_nats_connected", Help: "1 while the NATS client is connected, else 0."},
			func() float64 { return b2f(nc.IsConnected()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchyard_nats_reconnects_total", Help: "Times the NATS client reconnected (to the same or another server)."},
			func() float64 { return float64(nc.Stats().Reconnects) }),
	)
}

// redisHealth registers switchyard_redis_connected (the last probe's
// outcome) and switchyard_redis_reconnects_total (probes that succeeded
// after a failed one), and returns the prober: one PING every
// redisProbeEvery until ctx ends.
func redisHealth(reg prometheus.Registerer, rdb redis.UniversalClient, every time.Duration) func(ctx context.Context) {
	var up atomic.Bool
	reconnects := prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_redis_reconnects_total", Help: "Times Redis answered again after a failed probe (outage ended, failover)."})
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_redis_connected", Help: "1 when the last Redis probe (PING every 5 s) succeeded, else 0."},
			func() float64 { return b2f(up.Load()) }),
		reconnects)
	seen := false // a first success is a connect, not a reconnect
	probe := func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ok := rdb.Ping(pctx).Err() == nil
		if was := up.Swap(ok); ok && !was && seen && ctx.Err() == nil {
			reconnects.Inc()
		}
		seen = seen || ok
	}
	return func(ctx context.Context) {
		probe(ctx)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				probe(ctx)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
