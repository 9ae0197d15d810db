package ownership_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds: Redis expiry has no event to wait on.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func keys(t *testing.T, ctx context.Context, rdb *redis.Client) []string {
	t.Helper()
	k, err := rdb.Keys(ctx, "sy:*").Result()
	must(t, err)
	slices.Sort(k)
	return k
}

func TestConnsAndSubscriptions(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	reg := ownership.NewRegistry(rdb, "gw-1", time.Minute, discard)
	look := ownership.Lookup{RDB: rdb}
	if reg.Pod() != "gw-1" {
		t.Errorf("Pod = %q", reg.Pod())
	}
	must(t, reg.Heartbeat(ctx))
	must(t, reg.AddConn(ctx, "c1", ownership.ConnInfo{Dialect: "client", Principal: "alice", Remote: "10.0.0.1:5555"}))
	must(t, reg.AddConn(ctx, "c2", ownership.ConnInfo{Dialect: "runtime", Principal: "rt-1", Remote: "10.0.0.2:6666"}))
	conns, err := look.Conns(ctx, "gw-1")
	must(t, err)
	want := map[string]string{"c1": "client alice 10.0.0.1:5555", "c2": "runtime rt-1 10.0.0.2:6666"}
	if !reflect.DeepEqual(conns, want) {
		t.Errorf("Conns = %v, want %v", conns, want)
	}
	if ttl := rdb.PTTL(ctx, "sy:pod:gw-1:conns").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("conns key TTL %v", ttl)
	}

	must(t, reg.Subscribe(ctx, "sess-1", "c1"))
	must(t, reg.Subscribe(ctx, "sess-1", "c3"))
	must(t, reg.Subscribe(ctx, "sess-2", "c1"))
	subs, err := look.Subscribers(ctx, "sess-1", time.Minute)
	must(t, err)
	sortAll(subs)
	if !reflect.DeepEqual(subs, map[string][]string{"gw-1": {"c1", "c3"}}) {
		t.Errorf("Subscribers(sess-1) = %v", subs)
	}
	must(t, reg.Unsubscribe(ctx, "sess-1", "c3"))
	must(t, reg.Unsubscribe(ctx, "sess-1", "never-subscribed"))

	// Removing a conn drops it and every subscription it held.
	must(t, reg.RemoveConn(ctx, "c1"))
	conns, _ = look.Conns(ctx, "gw-1")
	if !reflect.DeepEqual(conns, map[string]string{"c2": "runtime rt-1 10.0.0.2:6666"}) {
		t.Errorf("Conns after RemoveConn = %v", conns)
	}
	for _, s := range []string{"sess-1", "sess-2"} {
		subs, err := look.Subscribers(ctx, s, time.Minute)
		must(t, err)
		if len(subs) != 0 {
			t.Errorf("Subscribers(%s) after RemoveConn = %v", s, subs)
		}
	}
	must(t, reg.RemoveConn(ctx, "unknown")) // idempotent
	// A session nobody follows, and a pod with no conns.
	if subs, err := look.Subscribers(ctx, "nobody", time.Minute); err != nil || len(subs) != 0 {
		t.Errorf("Subscribers(nobody) = %v, %v", subs, err)
	}
	if c, err := look.Conns(ctx, "gw-unknown"); err != nil || len(c) != 0 {
		t.Errorf("Conns(unknown pod) = %v, %v", c, err)
	}
}

func sortAll(m map[string][]string) {
	for _, v := range m {
		slices.Sort(v)
	}
}

// Subscribers spans pods, and only pods with a fresh heartbeat count.
func TestSubscribersAcrossPods(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	a := ownership.NewRegistry(rdb, "gw-a", time.Minute, discard)
	b := ownership.NewRegistry(rdb, "gw-b", time.Minute, discard)
	must(t, a.Heartbeat(ctx))
	must(t, b.Heartbeat(ctx))
	must(t, a.Subscribe(ctx, "s", "a1"))
	must(t, b.Subscribe(ctx, "s", "b1"))
	must(t, b.Subscribe(ctx, "s", "b2"))
	look := ownership.Lookup{RDB: rdb}
	subs, err := look.Subscribers(ctx, "s", time.Minute)
	must(t, err)
	sortAll(subs)
	if !reflect.DeepEqual(subs, map[string][]string{"gw-a": {"a1"}, "gw-b": {"b1", "b2"}}) {
		t.Errorf("Subscribers = %v", subs)
	}
	pods, err := look.Pods(ctx, time.Minute)
	must(t, err)
	slices.Sort(pods)
	if !reflect.DeepEqual(pods, []string{"gw-a", "gw-b"}) {
		t.Errorf("Pods = %v", pods)
	}
	// A pod whose last heartbeat is older than the ttl asked for is not live.
	must(t, rdb.ZAdd(ctx, "sy:pods", redis.Z{Score: float64(time.Now().Add(-2 * time.Minute).UnixMilli()), Member: "gw-b"}).Err())
	pods, _ = look.Pods(ctx, time.Minute)
	if !reflect.DeepEqual(pods, []string{"gw-a"}) {
		t.Errorf("Pods with a stale gw-b = %v", pods)
	}
	subs, _ = look.Subscribers(ctx, "s", time.Minute)
	if !reflect.DeepEqual(subs, map[string][]string{"gw-a": {"a1"}}) {
		t.Errorf("Subscribers with a stale gw-b = %v", subs)
	}
	// Any heartbeat sweeps stale pods out of the set.
	must(t, a.Heartbeat(ctx))
	if n := rdb.ZCard(ctx, "sy:pods").Val(); n != 1 {
		t.Errorf("sy:pods has %d members after a sweep, want 1", n)
	}
}

// The newest claim of a runtime wins; releasing is compare-and-delete, so
// an old socket closing late cannot remove a newer claim.
func TestClaimRelease(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	a := ownership.NewRegistry(rdb, "gw-a", time.Minute, discard)
	b := ownership.NewRegistry(rdb, "gw-b", time.Minute, discard)
	look := ownership.Lookup{RDB: rdb}
	lookup := func() (string, string, bool) {
		t.Helper()
		pod, conn, ok, err := look.Runtime(ctx, "rt-1")
		must(t, err)
		return pod, conn, ok
	}
	if _, _, ok := lookup(); ok {
		t.Fatal("unclaimed runtime found")
	}
	must(t, a.ClaimRuntime(ctx, "rt-1", "c-old"))
	if pod, conn, ok := lookup(); !ok || pod != "gw-a" || conn != "c-old" {
		t.Fatalf("Runtime = %s %s %v", pod, conn, ok)
	}
	// The runtime reconnects through another pod.
	must(t, b.ClaimRuntime(ctx, "rt-1", "c-new"))
	mustRelease(t, a, "rt-1", "c-old", false)
	if pod, conn, ok := lookup(); !ok || pod != "gw-b" || conn != "c-new" {
		t.Errorf("old socket's release removed the new claim: %s %s %v", pod, conn, ok)
	}
	// Same pod, new conn: the old conn cannot release either.
	must(t, b.ClaimRuntime(ctx, "rt-1", "c-newer"))
	mustRelease(t, b, "rt-1", "c-new", false)
	if pod, conn, ok := lookup(); !ok || pod != "gw-b" || conn != "c-newer" {
		t.Errorf("after stale release on the same pod: %s %s %v", pod, conn, ok)
	}
	// The stale registry's heartbeat does not bring its old claim back.
	must(t, a.Heartbeat(ctx))
	if pod, conn, _ := lookup(); pod != "gw-b" || conn != "c-newer" {
		t.Errorf("heartbeat of the old pod changed the claim to %s %s", pod, conn)
	}
	mustRelease(t, b, "rt-1", "c-newer", true)
	if _, _, ok := lookup(); ok {
		t.Error("runtime still online after its owner released it")
	}
	// After the owner released it, a heartbeat does not resurrect it.
	must(t, b.Heartbeat(ctx))
	must(t, b.Heartbeat(ctx))
	if _, _, ok := lookup(); ok {
		t.Error("released runtime came back with a heartbeat")
	}

	must(t, a.ClaimRuntime(ctx, "rt-2", "c2"))
	online, err := look.RuntimesOnline(ctx, []string{"rt-1", "rt-2", "rt-3"})
	must(t, err)
	if !reflect.DeepEqual(online, map[string]bool{"rt-1": false, "rt-2": true, "rt-3": false}) {
		t.Errorf("RuntimesOnline = %v", online)
	}
	if m, err := look.RuntimesOnline(ctx, nil); err != nil || len(m) != 0 {
		t.Errorf("RuntimesOnline(nil) = %v, %v", m, err)
	}
}

// A pod that stops heart-beating (crashed) loses all its records once the
// TTL passes.
func TestRecordsExpireWithoutHeartbeat(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	const ttl = 300 * time.Millisecond
	reg := ownership.NewRegistry(rdb, "gw-dead", ttl, discard)
	must(t, reg.Heartbeat(ctx))
	must(t, reg.AddConn(ctx, "c1", ownership.ConnInfo{Dialect: "runtime", Principal: "rt-1", Remote: "r"}))
	must(t, reg.ClaimRuntime(ctx, "rt-1", "c1"))
	must(t, reg.Subscribe(ctx, "sess-1", "c1"))
	want := []string{"sy:pod:gw-dead", "sy:pod:gw-dead:conns", "sy:pods", "sy:rt:rt-1", "sy:sub:sess-1:gw-dead"}
	if got := keys(t, ctx, rdb); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	look := ownership.Lookup{RDB: rdb}
	start := time.Now()
	waitFor(t, "records of a silent pod expire", 5*time.Second, func() bool {
		k := keys(t, ctx, rdb)
		return len(k) == 0 || reflect.DeepEqual(k, []string{"sy:pods"})
	})
	if el := time.Since(start); el < ttl/2 {
		t.Errorf("records vanished after %v, before the TTL", el)
	}
	if _, _, ok, _ := look.Runtime(ctx, "rt-1"); ok {
		t.Error("runtime of a dead pod still online")
	}
	if pods, _ := look.Pods(ctx, ttl); len(pods) != 0 {
		t.Errorf("dead pod still listed: %v", pods)
	}
	if subs, _ := look.Subscribers(ctx, "sess-1", ttl); len(subs) != 0 {
		t.Errorf("subscribers of a dead pod: %v", subs)
	}
}

// Heart-beating keeps records alive well past the TTL.
func TestHeartbeatKeepsRecordsAlive(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	const ttl = 300 * time.Millisecond
	reg := ownership.NewRegistry(rdb, "gw-live", ttl, discard)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	must(t, reg.Heartbeat(ctx))
	go func() { reg.Run(runCtx, ttl/4); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	must(t, reg.AddConn(ctx, "c1", ownership.ConnInfo{Dialect: "client", Principal: "u", Remote: "r"}))
	must(t, reg.ClaimRuntime(ctx, "rt-1", "c1"))
	must(t, reg.Subscribe(ctx, "sess-1", "c1"))
	waitFor(t, "first heartbeat", 5*time.Second, func() bool { return len(keys(t, ctx, rdb)) == 5 })
	deadline := time.Now().Add(3 * ttl)
	for time.Now().Before(deadline) {
		if n := len(keys(t, ctx, rdb)); n != 5 {
			t.Fatalf("a heart-beating pod lost records: %v", keys(t, ctx, rdb))
		}
		time.Sleep(ttl / 6)
	}
	stop()
	<-done
	waitFor(t, "records expire after Run stops", 5*time.Second, func() bool {
		_, _, ok, _ := ownership.Lookup{RDB: rdb}.Runtime(ctx, "rt-1")
		return !ok
	})
}

// A Redis restart loses everything; the next heartbeat notices the missing
// liveness key and rewrites every record of the pod from memory.
func TestHeartbeatRewritesAfterRedisRestart(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	reg := ownership.NewRegistry(rdb, "gw-1", time.Minute, discard)
	must(t, reg.Heartbeat(ctx))
	must(t, reg.AddConn(ctx, "c1", ownership.ConnInfo{Dialect: "runtime", Principal: "rt-1", Remote: "a"}))
	must(t, reg.AddConn(ctx, "c2", ownership.ConnInfo{Dialect: "client", Principal: "bob", Remote: "b"}))
	must(t, reg.ClaimRuntime(ctx, "rt-1", "c1"))
	must(t, reg.Subscribe(ctx, "sess-1", "c2"))
	must(t, reg.Subscribe(ctx, "sess-2", "c2"))
	before := dump(t, ctx, rdb)

	must(t, r.Restart())
	if k := keys(t, ctx, rdb); len(k) != 0 {
		t.Fatalf("restarted redis still has %v", k)
	}
	must(t, reg.Heartbeat(ctx))
	after := dump(t, ctx, rdb)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("records after restart + heartbeat:\n%v\nwant\n%v", after, before)
	}
	for _, k := range keys(t, ctx, rdb) {
		if k == "sy:pods" {
			continue
		}
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("%s rewritten without a TTL (%v)", k, ttl)
		}
	}
	// A runtime claimed elsewhere meanwhile is not overwritten by a resync.
	must(t, r.Restart())
	other := ownership.NewRegistry(rdb, "gw-2", time.Minute, discard)
	must(t, other.ClaimRuntime(ctx, "rt-1", "c9"))
	must(t, reg.Heartbeat(ctx))
	pod, conn, ok, err := ownership.Lookup{RDB: rdb}.Runtime(ctx, "rt-1")
	if err != nil || !ok || pod != "gw-2" || conn != "c9" {
		t.Errorf("resync overwrote a newer claim: %s %s %v %v", pod, conn, ok, err)
	}
}

// dump reads every sy:* record (values only, not TTLs or scores).
func dump(t *testing.T, ctx context.Context, rdb *redis.Client) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, k := range keys(t, ctx, rdb) {
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			v := rdb.Get(ctx, k).Val()
			if k == "sy:pod:gw-1" {
				v = "<timestamp>"
			}
			out[k] = v
		case "hash":
			out[k] = rdb.HGetAll(ctx, k).Val()
		case "set":
			m := rdb.SMembers(ctx, k).Val()
			slices.Sort(m)
			out[k] = m
		case "zset":
			out[k] = rdb.ZRange(ctx, k, 0, -1).Val()
		default:
			t.Fatalf("%s has type %s", k, typ)
		}
	}
	return out
}

// Withdraw (graceful drain) removes every record of the pod and nothing of
// other pods; a runtime another pod claimed meanwhile stays.
func TestWithdraw(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	a := ownership.NewRegistry(rdb, "gw-a", time.Minute, discard)
	b := ownership.NewRegistry(rdb, "gw-b", time.Minute, discard)
	for _, reg := range []*ownership.Registry{a, b} {
		must(t, reg.Heartbeat(ctx))
		must(t, reg.AddConn(ctx, "c1", ownership.ConnInfo{Dialect: "client", Principal: "u", Remote: "r"}))
		must(t, reg.Subscribe(ctx, "shared", "c1"))
	}
	must(t, a.ClaimRuntime(ctx, "rt-a", "c1"))
	must(t, a.ClaimRuntime(ctx, "rt-moved", "c1"))
	must(t, b.ClaimRuntime(ctx, "rt-moved", "c7"))
	must(t, b.ClaimRuntime(ctx, "rt-b", "c1"))
	must(t, a.Subscribe(ctx, "only-a", "c1"))
	bBefore := map[string]any{}
	for k, v := range dump(t, ctx, rdb) {
		if k != "sy:pods" && !containsPod(k, "gw-a") && k != "sy:rt:rt-a" {
			bBefore[k] = v
		}
	}

	must(t, a.Withdraw(ctx))
	after := dump(t, ctx, rdb)
	for k := range after {
		if containsPod(k, "gw-a") || k == "sy:rt:rt-a" {
			t.Errorf("%s survived Withdraw", k)
		}
	}
	if !reflect.DeepEqual(after["sy:pods"], []string{"gw-b"}) {
		t.Errorf("sy:pods = %v", after["sy:pods"])
	}
	delete(after, "sy:pods")
	for k, v := range bBefore {
		if !reflect.DeepEqual(after[k], v) {
			t.Errorf("%s of another pod changed: %v → %v", k, v, after[k])
		}
	}
	if pod, conn, ok, _ := (ownership.Lookup{RDB: rdb}).Runtime(ctx, "rt-moved"); !ok || pod != "gw-b" || conn != "c7" {
		t.Errorf("rt-moved = %s %s %v", pod, conn, ok)
	}
	// A withdrawn registry has nothing left to rewrite.
	must(t, a.Heartbeat(ctx))
	for _, k := range keys(t, ctx, rdb) {
		if k == "sy:pod:gw-a:conns" || k == "sy:rt:rt-a" || k == "sy:sub:only-a:gw-a" {
			t.Errorf("%s rewritten after Withdraw", k)
		}
	}
}

func containsPod(key, pod string) bool {
	return key == "sy:pod:"+pod || key == "sy:pod:"+pod+":conns" || (len(key) > len(pod) && key[len(key)-len(pod)-1:] == ":"+pod)
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

// Redis being down is an error, not a hang or a panic.
func TestRedisDown(t *testing.T) {
	redis.SetLogger(quietLog{}) // the pool's dial failures are expected here
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	r.Stop()
	ctx := testCtx(t)
	reg := ownership.NewRegistry(rdb, "gw", time.Minute, discard)
	for name, err := range map[string]error{
		"heartbeat": reg.Heartbeat(ctx),
		"add conn":  reg.AddConn(ctx, "c", ownership.ConnInfo{}),
		"claim":     reg.ClaimRuntime(ctx, "rt", "c"),
	} {
		if err == nil {
			t.Errorf("%s with Redis down succeeded", name)
		}
	}
	if _, _, _, err := (ownership.Lookup{RDB: rdb}).Runtime(ctx, "rt"); err == nil {
		t.Error("lookup with Redis down succeeded")
	}
}

// Heartbeats (here every one a resync: the liveness key is deleted before
// each) run concurrently with socket churn, as in a gateway; afterwards a
// resync writes exactly the registry's state. Run with -race.
func TestHeartbeatConcurrentWithChurn(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	reg := ownership.NewRegistry(rdb, "gw-1", time.Minute, discard)
	stop := make(chan struct{})
	beats := make(chan error, 1)
	go func() {
		var err error
		for n := 0; err == nil; n++ {
			select {
			case <-stop:
				beats <- nil
				return
			default:
			}
			if err = rdb.Del(ctx, "sy:pod:gw-1").Err(); err == nil {
				err = reg.Heartbeat(ctx)
			}
		}
		beats <- err
	}()
	for i := 0; i < 200; i++ {
		c := "c" + strconv.Itoa(i)
		must(t, reg.AddConn(ctx, c, ownership.ConnInfo{Dialect: "client", Principal: "u", Remote: "r"}))
		must(t, reg.Subscribe(ctx, "s"+strconv.Itoa(i%7), c))
		must(t, reg.ClaimRuntime(ctx, "rt-"+strconv.Itoa(i%5), c))
		if i%3 == 0 {
			must(t, reg.RemoveConn(ctx, c))
		}
	}
	close(stop)
	must(t, <-beats)
	// The end state, rewritten from memory into an empty Redis.
	must(t, rdb.FlushAll(ctx).Err())
	must(t, reg.Heartbeat(ctx))
	conns, err := ownership.Lookup{RDB: rdb}.Conns(ctx, "gw-1")
	must(t, err)
	if len(conns) != 200-67 {
		t.Errorf("%d conns rewritten, want %d", len(conns), 200-67)
	}
	subs, err := ownership.Lookup{RDB: rdb}.Subscribers(ctx, "s1", time.Minute)
	must(t, err)
	for _, c := range subs["gw-1"] {
		if n, _ := strconv.Atoi(c[1:]); n%3 == 0 || n%7 != 1 {
			t.Errorf("subscriber %s of s1 should not exist", c)
		}
	}
	if len(subs["gw-1"]) == 0 {
		t.Error("no subscribers of s1 rewritten")
	}
}

// mustRelease releases rid from conn and checks whether the record was
// deleted by this call (the compare-and-delete's answer).
func mustRelease(t *testing.T, r *ownership.Registry, rid, conn string, want bool) {
	t.Helper()
	released, err := r.ReleaseRuntime(testCtx(t), rid, conn)
	must(t, err)
	if released != want {
		t.Errorf("ReleaseRuntime(%s, %s) released = %v, want %v", rid, conn, released, want)
	}
}
