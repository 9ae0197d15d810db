// Package browser drives the web console (/console/) in a real headless
// chromium (github.com/chromedp/chromedp) against the dev stack, a second
// gateway pod, the example shell runtime and a scripted test runtime.
// Every wait is on a DOM condition or a frame, never on a sleep.
package browser

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/services/devstack/stack"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/pod"
	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

const (
	runtimeToken = "rt-secret"
	clientToken  = "alice-token"
	adminToken   = "ops-token"
	waitLimit    = 20 * time.Second
)

// chromium finds Debian's chromium (scripts/test-deps.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on this machine (apt-get install chromium, or run scripts/test-deps.sh); the console's browser tests did not run")
	return ""
}

// hub is the dev stack plus one more gateway pod that the test can stop.
type hub struct {
	t       *testing.T
	st      *stack.Stack
	gw0     string // the dev stack's gateway, host:port
	gw1     string // the extra gateway, host:port
	stopGw1 context.CancelFunc
	gw1Done chan struct{}
}

func startHub(t *testing.T) *hub {
	t.Helper()
	t.Setenv("SY_DRAIN_JITTER", "50ms")
	t.Setenv("SY_ADMIN_TOKENS", adminToken+"=ops")
	redis := testenv.StartRedis(t)
	var cfg stack.Config
	if err := config.Load(&cfg, "devstack", nil); err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.DataDir, cfg.RedisURL = "127.0.0.1:0", t.TempDir(), redis.URL()
	cfg.RuntimeTokens = []string{runtimeToken + "=*"}
	cfg.ClientTokens = []string{clientToken + "=alice"}
	cfg.LogLevel = "warn"
	st, err := stack.Start(context.Background(), cfg, process.Options{})
	if err != nil {
		t.Fatalf("dev stack: %v", err)
	}
	h := &hub{t: t, st: st, gw0: strings.TrimPrefix(st.GatewayURL, "http://"), gw1Done: make(chan struct{})}
	t.Cleanup(st.Stop)

	var gcfg edge.Config
	if err := config.Load(&gcfg, "gateway", nil); err != nil {
		t.Fatal(err)
	}
	gcfg.Pod, gcfg.Listen, gcfg.NATSURL, gcfg.RedisURL = "gw-1", "127.0.0.1:0", st.NATSURL, redis.URL()
	gcfg.ClientTokens = cfg.ClientTokens
	gcfg.LogLevel = "warn"
	ctx, cancel := context.WithCancel(context.Background())
	h.stopGw1 = cancel
	started := make(chan *edge.Server, 1)
	errs := make(chan error, 1)
	go func() {
		defer close(h.gw1Done)
		errs <- pod.Run(ctx, gcfg, process.Options{}, func(s *edge.Server) { started <- s })
	}()
	select {
	case s := <-started:
		h.gw1 = s.Addr()
	case err := <-errs:
		t.Fatalf("gateway gw-1: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("gateway gw-1 did not start")
	}
	t.Cleanup(func() { cancel(); <-h.gw1Done })
	return h
}

// killGw1 drains the extra gateway (its sockets close with 1001) and
// waits until it has stopped.
func (h *hub) killGw1() {
	h.stopGw1()
	select {
	case <-h.gw1Done:
	case <-time.After(waitLimit):
		h.t.Fatal("gateway gw-1 did not stop")
	}
}

// balancer is the load balancer in front of the gateways: each request
// goes to the first backend that accepts a connection, so the page is on
// gw-1 until gw-1 stops, then on the next one. It records the backend of
// every /ws/client socket.
type balancer struct {
	URL      string
	backends []string
	mu       sync.Mutex
	sockets  []string
}

type wsKey struct{}

func newBalancer(t *testing.T, backends ...string) *balancer {
	b := &balancer{backends: backends}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		var last error
		for _, addr := range b.backends {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				last = err
				continue
			}
			if ctx.Value(wsKey{}) != nil {
				b.mu.Lock()
				b.sockets = append(b.sockets, addr)
				b.mu.Unlock()
			}
			return c, nil
		}
		return nil, last
	}}
	proxy := &httputil.ReverseProxy{Transport: tr, FlushInterval: -1, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "http", "gateways", pr.In.Host
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws/client" {
			r = r.WithContext(context.WithValue(r.Context(), wsKey{}, true))
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	b.URL = "http://" + ln.Addr().String()
	return b
}

// wsBackends is the backend of every /ws/client socket so far.
func (b *balancer) wsBackends() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sockets...)
}

// startShellRuntime builds and runs the example shell runtime on gw.
func startShellRuntime(t *testing.T, gw string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shellruntime")
	if out, err := exec.Command("go", "build", "-o", bin, "../../services/examples/shellruntime").CombinedOutput(); err != nil {
		t.Fatalf("build shellruntime: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-hub", "ws://"+gw+"/ws/runtime", "-token", runtimeToken, "-endpoint", "shell", "-runtime-id", "shell-rt")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("shell runtime log:\n%s", log.String())
		}
	})
}

// testRuntime is a scripted runtime (tests/wspeer) with endpoint "probe":
// it asks for permissions, receives uploads, sends files and streams
// numbered lines when the test says so.
type testRuntime struct {
	*wspeer.Peer
	t *testing.T
}

func ts() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func connectTestRuntime(t *testing.T, gw string) *testRuntime {
	t.Helper()
	p := wspeer.Dial(t, "ws://"+gw+"/ws/runtime", waitLimit)
	p.MustSend(map[string]any{"type": "runtime.hello", "ts": ts(), "payload": map[string]any{
		"runtime_id": "probe-rt", "token": runtimeToken, "org_id": "default",
		"endpoints": []any{map[string]any{"id": "probe", "profile": "claude-code", "name": "Probe (test runtime)",
			"caps":     map[string]any{"native_session_ids": false, "turn_completion": true, "resume_attach": false, "exec_model": "interactive"},
			"security": map[string]any{"permission_mode": "strict", "allowed_tools": []any{"Bash", "Read", "Write"}}}},
	}})
	if ack := p.Expect("hello.ack"); wspeer.Payload(ack)["ok"] != true {
		t.Fatalf("hello refused: %v", ack)
	}
	p.Expect("runtime.token_refresh")
	return &testRuntime{Peer: p, t: t}
}

// acceptSession answers the next session.create and returns its id.
func (r *testRuntime) acceptSession() string {
	r.t.Helper()
	sid := wspeer.Payload(r.Expect("session.create"))["session_id"].(string)
	r.MustSend(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
	return sid
}

// startTurn waits for the user.message the page sends and starts a turn.
func (r *testRuntime) startTurn(sid, content string) string {
	r.t.Helper()
	m := wspeer.Payload(r.ExpectSkipping("user.message", "permission.response", "file.upload"))
	if m["content"] != content {
		r.t.Fatalf("user.message content %q, want %q", m["content"], content)
	}
	id := m["message_id"].(string)
	r.MustSend(map[string]any{"type": "turn.started", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "in_response_to": id}})
	return id
}

func (r *testRuntime) line(sid string, n int) error {
	return r.Send(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "message_id": fmt.Sprintf("out-%d", n), "seq": n, "channel": "stdout",
		"content": fmt.Sprintf("line-%03d\n", n), "final": false}})
}

// lines streams line-from … line-to.
func (r *testRuntime) lines(sid string, from, to int) error {
	for n := from; n <= to; n++ {
		if err := r.line(sid, n); err != nil {
			return err
		}
	}
	return nil
}

func (r *testRuntime) endTurn(sid, inResponseTo string) {
	r.MustSend(map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "in_response_to": inResponseTo, "exit_code": 0}})
}

// startBrowser starts a headless chromium with a fresh profile.
func startBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	var logMu sync.Mutex
	var logs []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			logMu.Lock()
			logs = append(logs, fmt.Sprintf("%s: %s", m.Type, m.Text))
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			tctx, c := context.WithTimeout(ctx, 5*time.Second)
			text, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
			c()
			logMu.Lock()
			t.Logf("page text at failure:\n%s\nbrowser console:\n%s", text, strings.Join(logs, "\n"))
			logMu.Unlock()
		}
		cancel()
		cancelAlloc()
	})
	return ctx
}

// run runs browser actions, failing the test on error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript condition on the page to be true.
func until(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

// eval evaluates js on the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// signIn opens the console and signs in.
func signIn(t *testing.T, ctx context.Context, base string, admin bool) {
	t.Helper()
	run(t, ctx, "open the console", chromedp.Navigate(base+"/console/"))
	run(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.ID("client-token")),
		chromedp.SendKeys(chromedp.ID("client-token"), clientToken))
	if admin {
		run(t, ctx, "admin token", chromedp.SendKeys(chromedp.ID("admin-token"), adminToken))
	}
	run(t, ctx, "submit", chromedp.Click(chromedp.CSS(`#signin button[type="submit"]`)))
	until(t, ctx, "signed in", `!document.getElementById('nav').hidden && document.getElementById('conn').dataset.state === 'open'`)
}

// countLines counts each line-NNN in the transcript.
func countLines(t *testing.T, ctx context.Context) map[string]int {
	t.Helper()
	return eval[map[string]int](t, ctx, `(() => { const c = {}; for (const m of document.getElementById('transcript').textContent.matchAll(/line-\d{3}/g)) c[m[0]] = (c[m[0]] || 0) + 1; return c; })()`)
}

// exactlyOnce checks line-from … line-to each appear exactly once.
func exactlyOnce(t *testing.T, counts map[string]int, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		if k := fmt.Sprintf("line-%03d", n); counts[k] != 1 {
			t.Errorf("%s shown %d times, want exactly once", k, counts[k])
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startDeviceAgent builds and runs the reference device agent
// (services/examples/deviceagent) on gw: a runtime with one endpoint of
// profile "device" called id.
func startDeviceAgent(t *testing.T, gw, id, name string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deviceagent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../services/examples/deviceagent").CombinedOutput(); err != nil {
		t.Fatalf("build deviceagent: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-hub", "ws://"+gw+"/ws/runtime", "-token", runtimeToken, "-id", id, "-name", name, "-dir", t.TempDir())
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("device agent log:\n%s", log.String())
		}
	})
}

// routeMissing reports whether the hub has no route at path: 404 from the
// router itself, not an API answer with a {code} body. A push channel is a
// WebSocket endpoint, so a plain GET that finds it gets 400.
func routeMissing(t *testing.T, method, url, token string) bool {
	t.Helper()
	st, raw := rest(t, method, url, token, nil, "")
	return st == http.StatusNotFound && !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{"))
}
