// Package e2e drives the hub end to end: the dev stack (real embedded
// nats-server, a real redis-server process) and extra gateway pods, with
// real WebSocket clients asserting the JSON frames of the documents.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/services/devstack/stack"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	gateway "github.com/switchyard-hub/switchyard/services/gateway/pod"
	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

const (
	runtimeToken = "rt-secret"
	clientToken  = "alice-token"
	bobToken     = "bob-token"
	waitLimit    = 10 * time.Second
)

// hub is a running stack for one test.
type hub struct {
	t        *testing.T
	st       *stack.Stack
	redis    *testenv.Redis
	spans    *tracetest.InMemoryExporter
	gateways []string // http://host:port, [0] is the dev stack's
	cancel   context.CancelFunc
	pods     []func() // stop each extra gateway pod (gatewayPod)
	natsDir  string
	stopOnce sync.Once
}

type hubOptions struct {
	extraGateways int
	env           map[string]string // SY_* settings for the services
	dataDir       string
	redis         *testenv.Redis
}

func startHub(t *testing.T, o hubOptions) *hub {
	t.Helper()
	t.Setenv("SY_DRAIN_JITTER", "50ms")              // tests tear hubs down often; drain fast
	t.Setenv("SY_CHAT_COMPAT_LISTEN", "127.0.0.1:0") // never the dev stack's :3000
	for k, v := range o.env {
		t.Setenv(k, v)
	}
	h := &hub{t: t, spans: tracetest.NewInMemoryExporter(), redis: o.redis, natsDir: o.dataDir}
	if h.redis == nil {
		h.redis = testenv.StartRedis(t)
	}
	if h.natsDir == "" {
		h.natsDir = t.TempDir()
	}
	cfg := stack.Config{}
	if err := config.Load(&cfg, "devstack", nil); err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.DataDir, cfg.RedisURL = "127.0.0.1:0", h.natsDir, h.redis.URL()
	cfg.RuntimeTokens = []string{runtimeToken + "=*"}
	cfg.ClientTokens = []string{clientToken + "=alice", bobToken + "=bob"}
	cfg.LogLevel = "warn"
	cfg.DeviceCompat = "127.0.0.1:0" // never the shared default port
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	st, err := stack.Start(ctx, cfg, process.Options{Exporter: h.spans})
	if err != nil {
		cancel()
		t.Fatalf("dev stack: %v", err)
	}
	h.st = st
	h.gateways = append(h.gateways, st.GatewayURL)
	for i := 0; i < o.extraGateways; i++ {
		url, _ := h.gatewayPod(fmt.Sprintf("gw-%d", i+2))
		h.gateways = append(h.gateways, url)
	}
	t.Cleanup(h.stop)
	return h
}

// gatewayPod starts another gateway pod on the hub's NATS and Redis and
// returns its http:// URL. stop ends it as SIGTERM does (its context ends:
// it drains) and waits until it has exited; the hub stops what is left
// before its dev stack.
func (h *hub) gatewayPod(pod string) (url string, stop func()) {
	h.t.Helper()
	var gcfg edge.Config
	if err := config.Load(&gcfg, "gateway", nil); err != nil {
		h.t.Fatal(err)
	}
	gcfg.Pod, gcfg.Listen, gcfg.NATSURL, gcfg.RedisURL = pod, "127.0.0.1:0", h.st.NATSURL, h.redis.URL()
	gcfg.ClientTokens = []string{clientToken + "=alice", bobToken + "=bob"}
	gcfg.LogLevel = "warn"
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *edge.Server, 1)
	errs := make(chan error, 1)
	go func() {
		errs <- gateway.Run(ctx, gcfg, process.Options{Exporter: h.spans}, func(s *edge.Server) { started <- s })
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errs:
				if err != nil {
					h.t.Errorf("gateway %s: %v", pod, err)
				}
			case <-time.After(waitLimit + 20*time.Second):
				h.t.Errorf("gateway %s did not drain", pod)
			}
		})
	}
	h.pods = append(h.pods, stop)
	select {
	case s := <-started:
		return "http://" + s.Addr(), stop
	case err := <-errs:
		cancel()
		h.t.Fatalf("gateway %s: %v", pod, err)
	case <-time.After(waitLimit):
		cancel()
		h.t.Fatalf("gateway %s did not start", pod)
	}
	return "", stop
}

func (h *hub) stop() {
	h.stopOnce.Do(func() {
		for _, stop := range h.pods {
			stop()
		}
		h.cancel()
		h.st.Stop()
	})
}

func (h *hub) ws(gw int, path string) string {
	return "ws" + strings.TrimPrefix(h.gateways[gw], "http") + path
}

// rest calls the REST API with the client token.
func (h *hub) rest(method, path, token string, body any) (int, map[string]any, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.gateways[0]+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

// peer is the test's WebSocket client (tests/wspeer).
type peer = wspeer.Peer

func dial(t *testing.T, url string) *peer { return wspeer.Dial(t, url, waitLimit) }

var payload = wspeer.Payload

func ts() string { return time.Now().UTC().Format(time.RFC3339) }

// helloFrame is the document's runtime.hello with one endpoint.
func helloFrame(runtimeID, token, endpoint string) map[string]any {
	return map[string]any{
		"type": "runtime.hello", "ts": ts(),
		"payload": map[string]any{
			"runtime_id": runtimeID, "token": token, "org_id": "default",
			"endpoints": []any{map[string]any{
				"id": endpoint, "profile": "claude-code", "name": "Claude Code (prod)",
				"tags":     map[string]any{"env": "production"},
				"caps":     map[string]any{"native_session_ids": false, "turn_completion": true, "resume_attach": false, "exec_model": "interactive"},
				"security": map[string]any{"permission_mode": "strict", "allowed_tools": []any{"Bash", "Read", "Write"}},
			}},
		},
	}
}

// connectRuntime dials /ws/runtime on gateway gw and says hello.
func (h *hub) connectRuntime(gw int, runtimeID, endpoint string) *peer {
	h.t.Helper()
	return h.hello(dial(h.t, h.ws(gw, "/ws/runtime")), runtimeID, endpoint)
}

// hello introduces rt, a socket on /ws/runtime, as runtime runtimeID.
func (h *hub) hello(rt *peer, runtimeID, endpoint string) *peer {
	h.t.Helper()
	rt.MustSend(helloFrame(runtimeID, runtimeToken, endpoint))
	ack := rt.Expect("hello.ack")
	if payload(ack)["ok"] != true {
		h.t.Fatalf("hello refused: %v", ack)
	}
	// A pre-shared token is replaced by a hub-issued one right after the ack.
	if tr := rt.Expect("runtime.token_refresh"); payload(tr)["token"] == "" {
		h.t.Fatalf("runtime.token_refresh without a token: %v", tr)
	}
	return rt
}

// createSession runs POST /v1/sessions with a runtime that answers.
func (h *hub) createSession(rt *peer, endpoint, token string) string {
	h.t.Helper()
	type result struct {
		status int
		body   map[string]any
	}
	done := make(chan result, 1)
	go func() {
		st, body, _ := h.rest("POST", "/v1/sessions", token, map[string]any{"endpoint_id": endpoint})
		done <- result{st, body}
	}()
	create := rt.Expect("session.create")
	sid := payload(create)["session_id"].(string)
	rt.MustSend(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
	r := <-done
	if r.status != http.StatusCreated || r.body["id"] != sid {
		h.t.Fatalf("POST /v1/sessions: %d %v", r.status, r.body)
	}
	return sid
}

func (h *hub) connectClient(gw int, token string) *peer {
	return dial(h.t, h.ws(gw, "/ws/client?token="+token))
}

// subscribe sends client.subscribe and returns the history.response
// messages (all pages).
func subscribe(c *peer, sid string, after int) []map[string]any {
	c.MustSend(map[string]any{"type": "client.subscribe", "ts": ts(), "payload": map[string]any{"session_id": sid, "after_seq": after}})
	var out []map[string]any
	for {
		hr := payload(c.Expect("history.response"))
		for _, m := range hr["messages"].([]any) {
			out = append(out, m.(map[string]any))
		}
		if hr["has_more"] != true {
			return out
		}
	}
}

func decodeList(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("not a JSON list: %s", raw)
	}
	return out
}

// waitFor polls a condition that has no event to wait on (state in Redis
// or behind REST) until it holds or the limit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRedisKeep starts a redis-server that outlives one hub (restart tests).
func startRedisKeep(t *testing.T) *testenv.Redis { return testenv.StartRedis(t) }
