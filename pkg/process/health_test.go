package process

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
)

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestRedisHealthMetrics: switchyard_redis_connected follows a Redis that
// dies and comes back, and the return counts one reconnect.
func TestRedisHealthMetrics(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go redisHealth(reg, rdb, 20*time.Millisecond)(ctx)
	wait := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("connected", func() bool { return gauge(t, reg, "switchyard_redis_connected") == 1 })
	if n := gauge(t, reg, "switchyard_redis_reconnects_total"); n != 0 {
		t.Fatalf("first connect counted as %v reconnects", n)
	}
	r.Stop()
	wait("disconnected", func() bool { return gauge(t, reg, "switchyard_redis_connected") == 0 })
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	wait("reconnected", func() bool { return gauge(t, reg, "switchyard_redis_connected") == 1 })
	if n := gauge(t, reg, "switchyard_redis_reconnects_total"); n != 1 {
		t.Fatalf("%v reconnects after one outage, want 1", n)
	}
}
