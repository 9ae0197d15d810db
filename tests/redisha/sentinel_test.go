package redisha

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// TestSentinelFailover: ownership written through the Sentinel-backed
// client survives the master's death. The Sentinel promotes the replica,
// the client follows it, the registry's heartbeat refreshes every record
// on the new master, records lost with the old master (writes it never
// replicated) are rewritten by the next heartbeat, and new runtimes can
// claim ownership again.
func TestSentinelFailover(t *testing.T) {
	bin, _ := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	master := start(t, bin, freePort(t))
	replica := start(t, bin, freePort(t), "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	sentinel := startSentinel(t, bin, freePort(t), master)

	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.addr()})
	defer sc.Close()
	eventually(t, 30*time.Second, "sentinel sees the replica", func() bool {
		reps, err := sc.Replicas(ctx, "mymaster").Result()
		return err == nil && len(reps) == 1 && reps[0]["master-link-status"] == "ok"
	})
	switched := sc.Subscribe(ctx, "+switch-master")
	defer switched.Close()
	if _, err := switched.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	var c config.Common
	config.Defaults(&c)
	c.RedisAddrs, c.RedisMasterName = []string{sentinel.addr()}, "mymaster"
	c.Heartbeat, c.OwnerTTL = 300*time.Millisecond, 8*time.Second
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	rdb, err := process.Redis(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := ownership.NewRegistry(rdb, "gw-1", c.OwnerTTL, log)
	owners := ownership.Lookup{RDB: rdb}
	must(t, reg.AddConn(ctx, "gw-1-b-1", ownership.ConnInfo{Dialect: "runtime", Principal: "r1", Remote: "127.0.0.1:1"}))
	must(t, reg.ClaimRuntime(ctx, "r1", "gw-1-b-1"))
	must(t, reg.Subscribe(ctx, "s1", "gw-1-b-2"))
	must(t, reg.Heartbeat(ctx))
	m := master.client()
	defer m.Close()
	if v := m.Get(ctx, "sy:rt:r1").Val(); v != "gw-1 gw-1-b-1" {
		t.Fatalf("the master does not hold the claim: %q", v)
	}
	if n, err := m.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d %v", n, err)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { defer close(runDone); reg.Run(runCtx, c.Heartbeat) }()
	defer func() { stopRun(); <-runDone }()

	master.kill()
	var msg *redis.Message
	select {
	case msg = <-switched.Channel():
	case <-ctx.Done():
		t.Fatal("no +switch-master from the Sentinel")
	}
	promoted := time.Now()
	if !strings.HasSuffix(msg.Payload, "127.0.0.1 "+strconv.Itoa(replica.port)) {
		t.Fatalf("switched to %q, want the replica %s", msg.Payload, replica.addr())
	}

	// The heartbeat goes on against the new master: the liveness key
	// carries a time after the promotion, the records are there and the
	// lookups through the failover client find them.
	nm := replica.client()
	defer nm.Close()
	refreshedAfter := func(since time.Time) bool {
		v, err := nm.Get(ctx, "sy:pod:gw-1").Result()
		if err != nil {
			return false
		}
		ts, err := time.Parse(time.RFC3339Nano, v)
		return err == nil && ts.After(since)
	}
	eventually(t, c.OwnerTTL, "heartbeat on the new master", func() bool { return refreshedAfter(promoted) })
	t.Logf("first heartbeat on the new master %s after +switch-master", time.Since(promoted).Round(time.Millisecond))
	if pod, conn, ok, err := owners.Runtime(ctx, "r1"); err != nil || !ok || pod != "gw-1" || conn != "gw-1-b-1" {
		t.Fatalf("after failover, r1 → %s %s %v %v", pod, conn, ok, err)
	}

	// Writes the old master never replicated are lost with it: the next
	// heartbeat notices the missing liveness key and rewrites everything.
	keys := []string{"sy:pod:gw-1", "sy:pod:gw-1:conns", "sy:rt:r1", "sy:sub:s1:gw-1"}
	must(t, nm.Del(ctx, keys...).Err())
	lost := time.Now()
	eventually(t, c.OwnerTTL, "records rewritten", func() bool {
		return nm.Exists(ctx, keys...).Val() == int64(len(keys)) && refreshedAfter(lost)
	})
	if subs, err := owners.Subscribers(ctx, "s1", c.OwnerTTL); err != nil || len(subs["gw-1"]) != 1 {
		t.Errorf("subscribers after rewrite: %v %v", subs, err)
	}
	if conns, err := owners.Conns(ctx, "gw-1"); err != nil || conns["gw-1-b-1"] != "runtime r1 127.0.0.1:1" {
		t.Errorf("conns after rewrite: %v %v", conns, err)
	}

	// A new runtime can say hello again.
	must(t, reg.ClaimRuntime(ctx, "r2", "gw-1-b-3"))
	if v := nm.Get(ctx, "sy:rt:r2").Val(); v != "gw-1 gw-1-b-3" {
		t.Errorf("new claim on the new master: %q", v)
	}
	online, err := owners.RuntimesOnline(ctx, []string{"r1", "r2", "r3"})
	if err != nil || !online["r1"] || !online["r2"] || online["r3"] {
		t.Errorf("RuntimesOnline after failover: %v %v", online, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
