package redisha

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// TestClusterOwnership: on a 3-master Redis Cluster, two pods' registries
// and every lookup work, RuntimesOnline across hundreds of runtimes on
// every shard included, without CROSSSLOT; release and withdraw remove
// exactly their records.
func TestClusterOwnership(t *testing.T) {
	bin, cli := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var nodes []*node
	var addrs []string
	for i := 0; i < 3; i++ {
		n := start(t, bin, freePort(t), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		nodes = append(nodes, n)
		addrs = append(addrs, n.addr())
	}
	run(t, cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...)
	for _, n := range nodes {
		c := n.client()
		eventually(t, 30*time.Second, "cluster_state:ok on "+n.addr(), func() bool {
			return strings.Contains(c.ClusterInfo(ctx).Val(), "cluster_state:ok")
		})
		_ = c.Close()
	}

	var c config.Common
	config.Defaults(&c)
	c.RedisCluster, c.RedisAddrs = true, addrs[:1] // one seed: the client finds the rest
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	rdb, err := process.Redis(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want a cluster client", rdb)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	owners := ownership.Lookup{RDB: rdb}

	const perPod = 300
	regs := map[string]*ownership.Registry{}
	var all []string
	for _, pod := range []string{"gw-1", "gw-2"} {
		reg := ownership.NewRegistry(rdb, pod, c.OwnerTTL, log)
		regs[pod] = reg
		var wg sync.WaitGroup
		errs := make(chan error, perPod)
		for i := 0; i < perPod; i++ {
			rid, conn := fmt.Sprintf("rt-%s-%d", pod, i), fmt.Sprintf("%s-b-%d", pod, i)
			all = append(all, rid)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- reg.AddConn(ctx, conn, ownership.ConnInfo{Dialect: "runtime", Principal: rid, Remote: "127.0.0.1:1"})
				errs <- reg.ClaimRuntime(ctx, rid, conn)
				errs <- reg.Subscribe(ctx, fmt.Sprintf("s-%d", i%20), conn)
			}()
			if i%50 == 49 {
				wg.Wait()
				drain(t, errs)
			}
		}
		wg.Wait()
		drain(t, errs)
		must(t, reg.Heartbeat(ctx)) // first one: resync of every record
		must(t, reg.Heartbeat(ctx))
	}

	// The keys really are spread: without that this test could not fail.
	var mu sync.Mutex
	shards := 0
	must(t, rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if n := m.DBSize(ctx).Val(); n > 0 {
			mu.Lock()
			shards++
			mu.Unlock()
		}
		return nil
	}))
	if shards != 3 {
		t.Fatalf("keys on %d of 3 masters", shards)
	}
	query := append(append([]string{}, all...), "rt-none-1", "rt-none-2")
	online, err := owners.RuntimesOnline(ctx, query)
	if err != nil {
		t.Fatalf("RuntimesOnline over %d runtimes: %v", len(query), err)
	}
	for _, rid := range all {
		if !online[rid] {
			t.Fatalf("%s not online", rid)
		}
	}
	if online["rt-none-1"] || online["rt-none-2"] || len(online) != len(query) {
		t.Errorf("unknown runtimes online or missing: %d entries", len(online))
	}
	if pod, conn, ok, err := owners.Runtime(ctx, "rt-gw-2-7"); err != nil || !ok || pod != "gw-2" || conn != "gw-2-b-7" {
		t.Errorf("Runtime: %s %s %v %v", pod, conn, ok, err)
	}
	if pods, err := owners.Pods(ctx, c.OwnerTTL); err != nil || len(pods) != 2 {
		t.Errorf("Pods: %v %v", pods, err)
	}
	if conns, err := owners.Conns(ctx, "gw-1"); err != nil || len(conns) != perPod {
		t.Errorf("Conns(gw-1): %d %v", len(conns), err)
	}
	subs, err := owners.Subscribers(ctx, "s-3", c.OwnerTTL)
	if err != nil || len(subs["gw-1"]) != perPod/20 || len(subs["gw-2"]) != perPod/20 {
		t.Errorf("Subscribers(s-3): %v %v", subs, err)
	}

	// Compare-and-delete (Lua) routes to the key's shard; a stale release
	// leaves a newer claim alone.
	if released, err := regs["gw-1"].ReleaseRuntime(ctx, "rt-gw-1-0", "gw-1-b-0"); err != nil || !released {
		t.Fatalf("release of the held claim: released %v, err %v", released, err)
	}
	if released, err := regs["gw-1"].ReleaseRuntime(ctx, "rt-gw-1-1", "gw-1-b-stale"); err != nil || released {
		t.Fatalf("stale release: released %v (want false), err %v", released, err)
	}
	must(t, regs["gw-1"].RemoveConn(ctx, "gw-1-b-2"))
	online, err = owners.RuntimesOnline(ctx, []string{"rt-gw-1-0", "rt-gw-1-1"})
	if err != nil || online["rt-gw-1-0"] || !online["rt-gw-1-1"] {
		t.Errorf("after release: %v %v", online, err)
	}

	// Withdraw deletes exactly gw-2's records.
	must(t, regs["gw-2"].Withdraw(ctx))
	online, err = owners.RuntimesOnline(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, rid := range all {
		if want := strings.HasPrefix(rid, "rt-gw-1-") && rid != "rt-gw-1-0"; online[rid] != want {
			t.Fatalf("after withdraw, %s online=%v", rid, online[rid])
		}
	}
	if pods, _ := owners.Pods(ctx, c.OwnerTTL); len(pods) != 1 || pods[0] != "gw-1" {
		t.Errorf("pods after withdraw: %v", pods)
	}
	if conns, _ := owners.Conns(ctx, "gw-2"); len(conns) != 0 {
		t.Errorf("gw-2 conns after withdraw: %d", len(conns))
	}
	if subs, _ := owners.Subscribers(ctx, "s-3", c.OwnerTTL); len(subs["gw-2"]) != 0 || len(subs["gw-1"]) == 0 {
		t.Errorf("subscribers after withdraw: %v", subs)
	}
}

func drain(t *testing.T, errs chan error) {
	t.Helper()
	for {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		default:
			return
		}
	}
}
