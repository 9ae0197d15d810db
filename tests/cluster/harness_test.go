// Package cluster runs Switchyard as separate processes on loopback — one
// NATS (the dev stack's embedded server, alone), one redis-server, session
// and relay replicas and several gateway pods — and kills them.
package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/embedded"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

const (
	runtimeToken = "rt-secret"
	clientToken  = "alice-token"
	waitLimit    = 20 * time.Second
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sy-cluster-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, svc := range []string{"gateway", "session", "relay", "devstack"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "sy-"+svc), "../../services/"+svc)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building service binaries:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one service process.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string
	// logFrom is the log's size when the process was last started.
	logFrom int64
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := f.Stat(); err == nil {
		p.logFrom = st.Size()
	}
	p.cmd = exec.Command(filepath.Join(binDir, p.bin), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
}

// kill sends SIGKILL (a crash) and waits for the process to die.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and returns how long the process took to exit.
func (p *proc) term(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start)
	case <-time.After(limit):
		p.kill()
		t.Fatalf("%s did not exit within %s of SIGTERM", p.name, limit)
	}
	return 0
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// cluster is a multi-process Switchyard on loopback.
type cluster struct {
	t        *testing.T
	dir      string
	redis    *testenv.Redis
	natsAddr string // the first (or only) NATS node's client address
	nats     *proc  // the first (or only) NATS node
	// natsNodes are every NATS node (one unless clusterOptions.natsNodes
	// asked for a cluster; a node's server name is its proc name); natsAddrs
	// go with them.
	natsNodes []*proc
	natsAddrs []string
	sessions  []*proc
	relays    []*proc
	gateways  []*proc
	gwAddrs   []string
	health    map[*proc]string
	common    []string
}

type clusterOptions struct {
	gateways, sessions, relays int
	env                        []string // extra SY_* for every service
	// natsNodes > 1 runs NATS as a JetStream cluster of that many
	// `sy-devstack -nats-only` nodes (each its own data directory, client
	// and cluster port, routes to all), the services get every node's URL
	// and SY_STREAM_REPLICAS=natsNodes. 0 or 1: one node, unclustered.
	natsNodes int
}

func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), redis: testenv.StartRedis(t), health: map[*proc]string{}}
	t.Cleanup(c.stop) // before anything can fail: no process outlives the test
	c.startNATS(max(o.natsNodes, 1))
	c.common = []string{"SY_NATS_URL=" + c.natsURL()}
	if len(c.natsNodes) > 1 {
		c.common = append(c.common, fmt.Sprintf("SY_STREAM_REPLICAS=%d", len(c.natsNodes)))
	}
	c.common = append(append(c.common,
		"SY_REDIS_URL="+c.redis.URL(), "SY_LOG_LEVEL=warn",
		"SY_HEARTBEAT=250ms", "SY_OWNER_TTL=1500ms", "SY_ACK_WAIT=1s",
		"SY_RUNTIME_TOKENS="+runtimeToken+"=*", "SY_CLIENT_TOKENS="+clientToken+"=alice",
		"SY_DRAIN_TIMEOUT=5s", "SY_DRAIN_JITTER=500ms",
	), o.env...)
	for i := 0; i < o.sessions; i++ {
		c.sessions = append(c.sessions, c.service("session", fmt.Sprintf("session-%d", i+1), "sy-session"))
	}
	for i := 0; i < o.relays; i++ {
		c.relays = append(c.relays, c.service("relay", fmt.Sprintf("relay-%d", i+1), "sy-relay"))
	}
	for i := 0; i < o.gateways; i++ {
		addr := freeAddr(t)
		gw := c.service("gateway", fmt.Sprintf("gw-%d", i+1), "sy-gateway", "SY_LISTEN="+addr)
		c.gateways, c.gwAddrs = append(c.gateways, gw), append(c.gwAddrs, addr)
		c.health[gw] = addr
	}
	for p := range c.health {
		for attempt := 1; c.readyOrBusy(p, c.health[p]); attempt++ {
			if attempt == 3 {
				c.t.Fatalf("%s: its address was taken %d times\n%s", p.name, attempt, tail(p.log))
			}
			c.rebind(p)
		}
	}
	return c
}

// rebind starts p again on a fresh address: another process took the
// one freeAddr gave it between the check and p's bind (free ports are
// picked at random by every test package running beside this one).
func (c *cluster) rebind(p *proc) {
	addr := freeAddr(c.t)
	for i, kv := range p.env {
		if strings.HasPrefix(kv, "SY_LISTEN=") || strings.HasPrefix(kv, "SY_HTTP_LISTEN=") {
			key, _, _ := strings.Cut(kv, "=")
			p.env[i] = key + "=" + addr
		}
	}
	if i := slices.Index(c.gateways, p); i >= 0 {
		c.gwAddrs[i] = addr
	}
	c.health[p] = addr
	p.start(c.t)
}

// natsURL is every NATS node's client URL, comma-separated.
func (c *cluster) natsURL() string {
	var urls []string
	for _, a := range c.natsAddrs {
		urls = append(urls, "nats://"+a)
	}
	return strings.Join(urls, ",")
}

// startNATS starts n `sy-devstack -nats-only` processes: one plain NATS
// server, or n nodes of one JetStream cluster routed to each other.
func (c *cluster) startNATS(n int) {
	c.t.Helper()
	var routes []string
	cluster := make([]string, n)
	if n > 1 {
		for i := range cluster {
			cluster[i] = freeAddr(c.t)
			routes = append(routes, "nats-route://"+cluster[i])
		}
	}
	for i := 0; i < n; i++ {
		name, addr := "nats", freeAddr(c.t)
		if n > 1 {
			name = fmt.Sprintf("nats-%d", i+1)
		}
		p := &proc{name: name, bin: "sy-devstack", log: filepath.Join(c.dir, name+".log"),
			args: []string{"-nats-only", "-nats-listen", addr, "-data", filepath.Join(c.dir, name)}}
		if n > 1 {
			p.args = append(p.args, "-nats-name", name, "-nats-cluster", "sy-test",
				"-nats-cluster-listen", cluster[i], "-nats-routes", strings.Join(routes, ","))
		}
		p.start(c.t)
		c.natsNodes, c.natsAddrs = append(c.natsNodes, p), append(c.natsAddrs, addr)
	}
	c.nats, c.natsAddr = c.natsNodes[0], c.natsAddrs[0]
	if n > 1 {
		c.waitNATSCluster()
	}
}

// jetStream is a JetStream client of the test's own on every node.
func (c *cluster) jetStream() jetstream.JetStream {
	c.t.Helper()
	nc, err := nats.Connect(c.natsURL(), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return js
}

// waitNATSCluster waits until the JetStream cluster can place a stream
// on every node (a meta leader, all peers known): a service started
// earlier may see its first stream creation go unanswered and exit.
func (c *cluster) waitNATSCluster() {
	c.t.Helper()
	js := c.jetStream()
	probe := jetstream.StreamConfig{Name: "SY_TEST_PROBE", Subjects: []string{"sy-test-probe"}, Replicas: len(c.natsNodes), Storage: jetstream.MemoryStorage}
	waitFor(c.t, "the NATS cluster to place an R3 stream", func() bool {
		for _, p := range c.natsNodes {
			if !p.running() {
				c.t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(p.log))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.CreateStream(ctx, probe)
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := js.DeleteStream(ctx, probe.Name); err != nil {
		c.t.Fatalf("delete the probe stream: %v", err)
	}
}

// service starts one service process with a health listener of its own.
func (c *cluster) service(kind, pod, bin string, env ...string) *proc {
	p := &proc{name: pod, bin: bin, log: filepath.Join(c.dir, pod+".log"),
		env: append(append([]string{"SY_POD=" + pod}, c.common...), env...)}
	if kind != "gateway" {
		addr := freeAddr(c.t)
		p.env = append(p.env, "SY_HTTP_LISTEN="+addr)
		c.health[p] = addr
	}
	p.start(c.t)
	return p
}

func (c *cluster) waitReady(p *proc, addr string) {
	c.t.Helper()
	if c.readyOrBusy(p, addr) {
		c.t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(p.log))
	}
}

// probe asks for readiness; whatever holds an address may never answer.
var probe = &http.Client{Timeout: 2 * time.Second}

// readyOrBusy waits until p answers /readyz on addr (false) or exits
// because its address is in use (true); any other exit fails the test.
func (c *cluster) readyOrBusy(p *proc, addr string) (busy bool) {
	c.t.Helper()
	waitFor(c.t, p.name+" ready", func() bool {
		if !p.running() {
			if busy = strings.Contains(p.lastRun(), "already in use"); busy {
				return true
			}
			c.t.Fatalf("%s exited: %v\n%s", p.name, p.err, tail(p.log))
		}
		resp, err := probe.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return busy
}

// restart starts a stopped process again (same name, port and data).
func (c *cluster) restart(p *proc) {
	p.start(c.t)
	if addr, ok := c.health[p]; ok {
		c.waitReady(p, addr)
	}
}

func (c *cluster) stop() {
	all := append(append(append([]*proc{}, c.gateways...), c.sessions...), c.relays...)
	for _, p := range all {
		if p.cmd != nil && p.running() {
			p.kill()
		}
	}
	for _, n := range c.natsNodes {
		if n.cmd != nil && n.running() {
			n.kill()
		}
	}
	if c.t.Failed() {
		for _, p := range append(all, c.natsNodes...) {
			c.t.Logf("--- %s log:\n%s", p.name, tail(p.log))
		}
	}
}

// metric reads one sample from a process's /metrics.
func (c *cluster) metric(p *proc, name string) float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.health[p] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

func (c *cluster) rdb() *redis.Client { return c.redis.Client(c.t) }

func (c *cluster) url(gw int, path string) string { return "http://" + c.gwAddrs[gw] + path }
func (c *cluster) ws(gw int, path string) string  { return "ws://" + c.gwAddrs[gw] + path }

// lastRun is what p logged since it was last started.
func (p *proc) lastRun() string {
	b, _ := os.ReadFile(p.log)
	return string(b[min(p.logFrom, int64(len(b))):])
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr(t *testing.T) string {
	p, err := embedded.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// waitFor polls a condition without an event to wait on (process and
// Redis state) until it holds or the limit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, waitLimit, what, cond)
}

// waitWithin is waitFor with its own limit.
func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ---- WebSocket peers -----------------------------------------------------

// peer is the test's WebSocket client (tests/wspeer).
type peer = wspeer.Peer

func dial(t *testing.T, url string) *peer { return wspeer.Dial(t, url, waitLimit) }

var payload = wspeer.Payload

func hello(runtimeID, endpoint string) map[string]any {
	return map[string]any{"type": "runtime.hello", "payload": map[string]any{
		"runtime_id": runtimeID, "token": runtimeToken, "org_id": "default",
		"endpoints": []any{map[string]any{"id": endpoint, "name": endpoint, "profile": "shell"}}}}
}

func (c *cluster) connectRuntime(gw int, runtimeID, endpoint string) *peer {
	c.t.Helper()
	rt := dial(c.t, c.ws(gw, "/ws/runtime"))
	rt.MustSend(hello(runtimeID, endpoint))
	if ack := rt.Expect("hello.ack"); payload(ack)["ok"] != true {
		c.t.Fatalf("hello: %v", ack)
	}
	// A pre-shared token is replaced by a hub-issued one right after the ack.
	rt.Expect("runtime.token_refresh")
	return rt
}

// createSession creates a session on gw's REST API; rt answers session.create.
func (c *cluster) createSession(gw int, rt *peer, endpoint string) string {
	c.t.Helper()
	type res struct {
		status int
		body   map[string]any
	}
	done := make(chan res, 1)
	go func() {
		req, _ := http.NewRequest("POST", c.url(gw, "/v1/sessions"), strings.NewReader(`{"endpoint_id":"`+endpoint+`"}`))
		req.Header.Set("Authorization", "Bearer "+clientToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- res{}
			return
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		done <- res{resp.StatusCode, m}
	}()
	sid := payload(rt.Expect("session.create"))["session_id"].(string)
	rt.MustSend(map[string]any{"type": "session.created", "session_id": sid, "payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
	if r := <-done; r.status != http.StatusCreated {
		c.t.Fatalf("create session: %d %v", r.status, r.body)
	}
	return sid
}

// readFrames hands p's transcript frames (history pages unpacked) to take
// and its error frames to bad until the socket ends.
func readFrames(p *peer, take, bad func(map[string]any)) {
	for m := range p.Frames {
		switch m["type"] {
		case "history.response":
			for _, x := range payload(m)["messages"].([]any) {
				take(x.(map[string]any))
			}
		case "error":
			bad(m)
		default:
			take(m)
		}
	}
}

func (c *cluster) client(gw int) *peer {
	return dial(c.t, c.ws(gw, "/ws/client?token="+clientToken))
}

func subscribeFrame(sid string, after int64) map[string]any {
	return map[string]any{"type": "client.subscribe", "payload": map[string]any{"session_id": sid, "after_seq": after}}
}

func output(sid string, i int) map[string]any {
	return map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{
		"session_id": sid, "message_id": fmt.Sprintf("o-%d", i), "seq": i, "channel": "stdout", "content": fmt.Sprintf("chunk %d\n", i), "final": false}}
}

// follower collects a client's view of one session's transcript across
// reconnects: seq → content, and the order seqs arrived in.
type follower struct {
	seqs []int64
	seen map[int64]int
	last int64
}

func newFollower() *follower { return &follower{seen: map[int64]int{}} }

// take records a transcript frame (live or from history).
func (f *follower) take(m map[string]any) {
	seq, ok := m["seq"].(float64)
	if !ok {
		return
	}
	s := int64(seq)
	f.seen[s]++
	f.seqs = append(f.seqs, s)
	if s > f.last {
		f.last = s
	}
}

// takeHistory records a history.response's messages.
func (f *follower) takeHistory(m map[string]any) {
	for _, x := range payload(m)["messages"].([]any) {
		f.take(x.(map[string]any))
	}
}

// exact checks the client saw seq 1..n once each, in order.
func (f *follower) exact(t *testing.T, who string, n int64) {
	t.Helper()
	if int64(len(f.seqs)) != n {
		t.Fatalf("%s saw %d transcript frames, want %d (dups: %v)", who, len(f.seqs), n, f.dups())
	}
	for i, s := range f.seqs {
		if s != int64(i+1) {
			t.Fatalf("%s: frame %d has seq %d (out of order or gap)", who, i, s)
		}
	}
}

func (f *follower) dups() []int64 {
	var out []int64
	for s, n := range f.seen {
		if n > 1 {
			out = append(out, s)
		}
	}
	return out
}

// follow reads p until the follower has seq n or the socket ends; it
// returns false if the socket ended first.
func (f *follower) follow(t *testing.T, p *peer, n int64) bool {
	t.Helper()
	deadline := time.After(waitLimit)
	for f.last < n {
		select {
		case m, ok := <-p.Frames:
			if !ok {
				return false
			}
			switch m["type"] {
			case "history.response":
				f.takeHistory(m)
			case "error":
				t.Fatalf("error frame: %v", m)
			default:
				f.take(m)
			}
		case <-deadline:
			t.Fatalf("stuck at seq %d of %d", f.last, n)
		}
	}
	return true
}

var _ = context.Background
