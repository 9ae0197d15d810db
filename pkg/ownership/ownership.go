// Package ownership records in Redis which gateway pod owns each socket,
// which socket each runtime is on, and which sockets subscribe to each
// session. Every record lives under a TTL that only the owning pod's
// heartbeat refreshes, so a dead pod's records disappear by themselves.
//
// Key map (docs/architecture.md):
//
//	sy:pod:<pod>             string  pod liveness, TTL
//	sy:pods                  zset    pod → last heartbeat (ms); stale members swept
//	sy:pod:<pod>:conns       hash    conn id → "dialect principal remote", TTL
//	sy:rt:<runtime>          string  "<pod> <conn>", TTL
//	sy:sub:<session>:<pod>   set     conn ids on <pod> subscribed to <session>, TTL
//
// Nothing here is on the per-frame path: frames find their sockets through
// NATS interest held by the gateways (see services/gateway).
//
// Redis Cluster: no command here names two keys (a multi-key read is a
// pipeline of single-key commands, which the cluster client splits by
// node), so no key needs a hash tag and keys spread over every shard. Key
// names are the same in every mode, so pods of one release agree.
package ownership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// Keys carry the installation's namespace (SY_NAMESPACE, pkg/namespace):
// "<ns>:sy:pods", or "sy:pods" by default.
func keyPods() string                      { return namespace.Key("sy:pods") }
func keyPod(pod string) string             { return namespace.Key("sy:pod:") + pod }
func keyConns(pod string) string           { return namespace.Key("sy:pod:") + pod + ":conns" }
func keyRuntime(rid string) string         { return namespace.Key("sy:rt:") + rid }
func keySubs(session, pod string) string   { return namespace.Key("sy:sub:") + session + ":" + pod }
func runtimeValue(pod, conn string) string { return pod + " " + conn }

// compareAndDelete deletes KEYS[1] only if it still holds ARGV[1].
var compareAndDelete = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// ConnInfo describes one socket.
type ConnInfo struct {
	Dialect   string
	Principal string // user id or runtime id
	Remote    string
}

func (c ConnInfo) String() string {
	return c.Dialect + " " + c.Principal + " " + c.Remote
}

// Registry is one pod's view of ownership: it writes that pod's records and
// refreshes them on every heartbeat.
type Registry struct {
	rdb redis.UniversalClient
	pod string
	ttl time.Duration
	log *slog.Logger

	mu       sync.Mutex
	conns    map[string]ConnInfo
	runtimes map[string]string // runtime id → conn id
	subs     map[string]map[string]struct{}
	pending  *removals // RemoveConn calls waiting for the next flush
	flushing bool

	healthy atomic.Bool // the last heartbeat reached Redis
}

// NewRegistry returns the registry of pod.
func NewRegistry(rdb redis.UniversalClient, pod string, ttl time.Duration, log *slog.Logger) *Registry {
	return &Registry{
		rdb: rdb, pod: pod, ttl: ttl, log: log,
		conns:    map[string]ConnInfo{},
		runtimes: map[string]string{},
		subs:     map[string]map[string]struct{}{},
	}
}

// Pod is the name of the pod this registry writes for.
func (r *Registry) Pod() string { return r.pod }

// AddConn records a socket owned by this pod.
func (r *Registry) AddConn(ctx context.Context, conn string, info ConnInfo) error {
	r.mu.Lock()
	r.conns[conn] = info
	r.mu.Unlock()
	p := r.rdb.Pipeline()
	p.HSet(ctx, keyConns(r.pod), conn, info.String())
	p.PExpire(ctx, keyConns(r.pod), r.ttl)
	_, err := p.Exec(ctx)
	return wrap("add conn", err)
}

// RemoveConn forgets a socket and every subscription it held. Removals
// are group-committed: sockets closing together (a drain, a network blip,
// thousands at once) share one pipelined round trip instead of queueing
// one each behind the connection pool. It returns once the removal is in
// Redis (or ctx ends).
func (r *Registry) RemoveConn(ctx context.Context, conn string) error {
	r.mu.Lock()
	delete(r.conns, conn)
	var sessions []string
	for s, set := range r.subs {
		if _, ok := set[conn]; ok {
			delete(set, conn)
			sessions = append(sessions, s)
			if len(set) == 0 {
				delete(r.subs, s)
			}
		}
	}
	if r.pending == nil {
		r.pending = &removals{subs: map[string][]any{}, done: make(chan struct{})}
	}
	b := r.pending
	b.conns = append(b.conns, conn)
	for _, s := range sessions {
		b.subs[s] = append(b.subs[s], conn)
	}
	if !r.flushing {
		r.flushing = true
		go r.flushRemovals()
	}
	r.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return wrap("remove conn", ctx.Err())
	}
}

// removals is one group commit of RemoveConn calls.
type removals struct {
	conns []string
	subs  map[string][]any // session → conn ids
	done  chan struct{}
	err   error
}

// flushRemovals writes pending removals until none are left.
func (r *Registry) flushRemovals() {
	for {
		r.mu.Lock()
		b := r.pending
		r.pending = nil
		if b == nil {
			r.flushing = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p := r.rdb.Pipeline()
		p.HDel(ctx, keyConns(r.pod), b.conns...)
		for s, conns := range b.subs {
			p.SRem(ctx, keySubs(s, r.pod), conns...)
		}
		_, err := p.Exec(ctx)
		cancel()
		b.err = wrap("remove conns", err)
		close(b.done)
	}
}

// ClaimRuntime makes conn the socket of runtime rid. The newest claim wins.
func (r *Registry) ClaimRuntime(ctx context.Context, rid, conn string) error {
	r.mu.Lock()
	r.runtimes[rid] = conn
	r.mu.Unlock()
	return wrap("claim runtime", r.rdb.Set(ctx, keyRuntime(rid), runtimeValue(r.pod, conn), r.ttl).Err())
}

// ReleaseRuntime removes rid's record if it still points at conn, in one
// compare-and-delete; released reports whether this call deleted it (so
// the caller announces the runtime offline only then: a runtime that
// already reconnected elsewhere is not offline).
func (r *Registry) ReleaseRuntime(ctx context.Context, rid, conn string) (released bool, err error) {
	r.mu.Lock()
	if r.runtimes[rid] == conn {
		delete(r.runtimes, rid)
	}
	r.mu.Unlock()
	n, err := compareAndDelete.Run(ctx, r.rdb, []string{keyRuntime(rid)}, runtimeValue(r.pod, conn)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, wrap("release runtime", err)
	}
	return n == 1, nil
}

// Subscribe records that conn subscribes to session.
func (r *Registry) Subscribe(ctx context.Context, session, conn string) error {
	r.mu.Lock()
	set := r.subs[session]
	if set == nil {
		set = map[string]struct{}{}
		r.subs[session] = set
	}
	set[conn] = struct{}{}
	r.mu.Unlock()
	p := r.rdb.Pipeline()
	p.SAdd(ctx, keySubs(session, r.pod), conn)
	p.PExpire(ctx, keySubs(session, r.pod), r.ttl)
	_, err := p.Exec(ctx)
	return wrap("subscribe", err)
}

// Unsubscribe removes conn's subscription to session.
func (r *Registry) Unsubscribe(ctx context.Context, session, conn string) error {
	r.mu.Lock()
	if set := r.subs[session]; set != nil {
		delete(set, conn)
		if len(set) == 0 {
			delete(r.subs, session)
		}
	}
	r.mu.Unlock()
	return wrap("unsubscribe", r.rdb.SRem(ctx, keySubs(session, r.pod), conn).Err())
}

// Heartbeat refreshes every record of this pod. If Redis lost the pod's
// liveness key (Redis restarted, or the pod stalled past its TTL), it
// rewrites every record from memory.
func (r *Registry) Heartbeat(ctx context.Context) error {
	err := r.heartbeat(ctx)
	r.healthy.Store(err == nil)
	return err
}

// Healthy reports whether the last heartbeat reached Redis.
func (r *Registry) Healthy() bool { return r.healthy.Load() }

func (r *Registry) heartbeat(ctx context.Context) error {
	now := time.Now()
	prev, err := r.rdb.SetArgs(ctx, keyPod(r.pod), now.UTC().Format(time.RFC3339Nano), redis.SetArgs{TTL: r.ttl, Get: true}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrap("heartbeat", err)
	}
	resync := prev == ""
	r.mu.Lock()
	p := r.rdb.Pipeline()
	p.ZAdd(ctx, keyPods(), redis.Z{Score: float64(now.UnixMilli()), Member: r.pod})
	p.ZRemRangeByScore(ctx, keyPods(), "-inf", fmt.Sprint(now.Add(-r.ttl).UnixMilli()))
	if resync && len(r.conns) > 0 {
		args := make([]any, 0, 2*len(r.conns))
		for c, info := range r.conns {
			args = append(args, c, info.String())
		}
		p.HSet(ctx, keyConns(r.pod), args...)
	}
	p.PExpire(ctx, keyConns(r.pod), r.ttl)
	for rid, conn := range r.runtimes {
		// Re-assert only while nobody else claimed it: SET ... XX would
		// overwrite a newer claim, so refresh the TTL and, on resync, set
		// the value only where the key is absent.
		if resync {
			p.SetNX(ctx, keyRuntime(rid), runtimeValue(r.pod, conn), r.ttl)
		}
		p.PExpire(ctx, keyRuntime(rid), r.ttl)
	}
	for s, set := range r.subs {
		if resync {
			members := make([]any, 0, len(set))
			for c := range set {
				members = append(members, c)
			}
			p.SAdd(ctx, keySubs(s, r.pod), members...)
		}
		p.PExpire(ctx, keySubs(s, r.pod), r.ttl)
	}
	nConns, nRuntimes, nSessions := len(r.conns), len(r.runtimes), len(r.subs) // read under r.mu
	r.mu.Unlock()
	_, err = p.Exec(ctx)
	if resync && err == nil {
		r.log.Info("ownership records written", "pod", r.pod, "conns", nConns, "runtimes", nRuntimes, "sessions", nSessions)
	}
	return wrap("heartbeat", err)
}

// Run heart-beats every period until ctx ends, the first time one period
// after it is called (a pod beats once itself before it serves, see
// Heartbeat). It is the pod's only heartbeat loop.
func (r *Registry) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("ownership heartbeat failed", "err", err)
		}
	}
}

// Withdraw deletes every record of this pod (graceful drain). Removals
// still being group-committed are written first, so none is lost when the
// process exits right after.
func (r *Registry) Withdraw(ctx context.Context) error {
	for {
		r.mu.Lock()
		b := r.pending
		busy := r.flushing
		r.mu.Unlock()
		if !busy {
			break
		}
		if b == nil {
			time.Sleep(time.Millisecond) // the flusher is writing its last batch
			continue
		}
		select {
		case <-b.done:
		case <-ctx.Done():
			return wrap("withdraw", ctx.Err())
		}
	}
	r.mu.Lock()
	p := r.rdb.Pipeline()
	p.Del(ctx, keyPod(r.pod))
	p.Del(ctx, keyConns(r.pod)) // one key a command: the two may live on different cluster shards
	p.ZRem(ctx, keyPods(), r.pod)
	for s := range r.subs {
		p.Del(ctx, keySubs(s, r.pod))
	}
	runtimes := make(map[string]string, len(r.runtimes))
	for rid, conn := range r.runtimes {
		runtimes[rid] = conn
	}
	r.conns, r.runtimes, r.subs = map[string]ConnInfo{}, map[string]string{}, map[string]map[string]struct{}{}
	r.mu.Unlock()
	_, err := p.Exec(ctx)
	for rid, conn := range runtimes {
		err = errors.Join(err, compareAndDelete.Run(ctx, r.rdb, []string{keyRuntime(rid)}, runtimeValue(r.pod, conn)).Err())
	}
	return wrap("withdraw", err)
}

// Lookup reads ownership records; any pod or service may use it.
type Lookup struct{ RDB redis.UniversalClient }

// Runtime returns the pod and conn of runtime rid; ok is false when the
// runtime has no live socket.
func (l Lookup) Runtime(ctx context.Context, rid string) (pod, conn string, ok bool, err error) {
	v, err := l.RDB.Get(ctx, keyRuntime(rid)).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, wrap("lookup runtime", err)
	}
	pod, conn, found := strings.Cut(v, " ")
	return pod, conn, found, nil
}

// RuntimesOnline reports, for each runtime id, whether it has a live
// socket. It pipelines one EXISTS a key rather than an MGET, which Redis
// Cluster refuses (CROSSSLOT) for keys of different slots; the cluster
// client sends each node its share in one round trip, in parallel.
func (l Lookup) RuntimesOnline(ctx context.Context, rids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(rids))
	if len(rids) == 0 {
		return out, nil
	}
	p := l.RDB.Pipeline()
	cmds := make([]*redis.IntCmd, len(rids))
	for i, rid := range rids {
		cmds[i] = p.Exists(ctx, keyRuntime(rid))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, wrap("lookup runtimes", err)
	}
	for i, c := range cmds {
		out[rids[i]] = c.Val() > 0
	}
	return out, nil
}

// Pods lists the pods whose heartbeat is fresh.
func (l Lookup) Pods(ctx context.Context, ttl time.Duration) ([]string, error) {
	min := fmt.Sprint(time.Now().Add(-ttl).UnixMilli())
	pods, err := l.RDB.ZRangeByScore(ctx, keyPods(), &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	return pods, wrap("list pods", err)
}

// Conns returns the sockets a pod owns.
func (l Lookup) Conns(ctx context.Context, pod string) (map[string]string, error) {
	m, err := l.RDB.HGetAll(ctx, keyConns(pod)).Result()
	return m, wrap("list conns", err)
}

// Subscribers returns the subscribed conn ids of a session, by pod, over
// the live pods.
func (l Lookup) Subscribers(ctx context.Context, session string, ttl time.Duration) (map[string][]string, error) {
	pods, err := l.Pods(ctx, ttl)
	if err != nil || len(pods) == 0 {
		return map[string][]string{}, err
	}
	p := l.RDB.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(pods))
	for i, pod := range pods {
		cmds[i] = p.SMembers(ctx, keySubs(session, pod))
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("list subscribers", err)
	}
	out := map[string][]string{}
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out[pods[i]] = m
		}
	}
	return out, nil
}

func wrap(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	return fmt.Errorf("ownership: %s: %w", op, err)
}
