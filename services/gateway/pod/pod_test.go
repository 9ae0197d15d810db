package pod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

const waitLimit = 15 * time.Second

// syncBuffer collects a pod's JSON logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gateway is one pod run the way the binary runs it (edge.Run with the
// rooms of Rooms) on real NATS and Redis.
type gateway struct {
	s     *edge.Server
	cfg   edge.Config
	logs  *syncBuffer
	spans *tracetest.InMemoryExporter
	reg   *prometheus.Registry
	redis *testenv.Redis
}

func baseConfig(t *testing.T) (edge.Config, *testenv.Redis) {
	t.Helper()
	n := testenv.NATS(t)
	r := testenv.StartRedis(t)
	cfg := edge.Defaults()
	cfg.Pod, cfg.NATSURL, cfg.RedisURL, cfg.Listen = "pod-test", n.URL(), r.URL(), "127.0.0.1:0"
	cfg.DrainJitter, cfg.DrainTimeout = 0, 5*time.Second
	cfg.LogFormat, cfg.LogLevel = "json", "debug"
	cfg.RequestTimeout = time.Second
	return cfg, r
}

func startGateway(t *testing.T, mod func(*edge.Config)) *gateway {
	t.Helper()
	cfg, r := baseConfig(t)
	if mod != nil {
		mod(&cfg)
	}
	g := &gateway{cfg: cfg, logs: &syncBuffer{}, spans: tracetest.NewInMemoryExporter(), reg: telemetry.NewRegistry(), redis: r}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *edge.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, process.Options{Exporter: g.spans, Registry: g.reg, LogOutput: g.logs}, func(s *edge.Server) { started <- s })
	}()
	select {
	case g.s = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("gateway did not start: %v", err)
	case <-time.After(waitLimit):
		cancel()
		t.Fatal("gateway did not start in time")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Error("gateway did not stop")
		}
	})
	return g
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPortInUseStopsBeforeAnything: a listen address in use ends the
// gateway at once with an error naming the setting, before any Redis key is
// written or any stream created; the same for the internal listener.
func TestPortInUseStopsBeforeAnything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name    string
		mod     func(*edge.Config)
		setting string
	}{
		{"public", func(c *edge.Config) { c.Listen = busy.Addr().String() }, "SY_LISTEN (-listen)"},
		{"internal", func(c *edge.Config) { c.InternalListen = busy.Addr().String() }, "SY_INTERNAL_LISTEN (-internal-listen)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, r := baseConfig(t)
			tc.mod(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			err := Run(ctx, cfg, process.Options{Registry: prometheus.NewRegistry(), LogOutput: io.Discard}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.setting) || !strings.Contains(err.Error(), "already in use") {
				t.Fatalf("Run with %s busy: %v; want an error naming %s and saying it is in use", tc.name, err, tc.setting)
			}
			n, err := r.Client(t).DBSize(ctx).Result()
			if err != nil || n != 0 {
				t.Fatalf("Redis holds %d keys (err %v) after a refused start; want none", n, err)
			}
			b := testenv.Bus(t, cfg.NATSURL, "check")
			names := b.JS.StreamNames(ctx)
			var streams []string
			for s := range names.Name() {
				streams = append(streams, s)
			}
			if len(streams) != 0 {
				t.Fatalf("streams %v exist after a refused start; want none", streams)
			}
		})
	}
}

// TestInternalListener: with SY_INTERNAL_LISTEN, metrics, health and pprof
// are served there and not on the public listener; without it, health and
// metrics stay on the public listener (the dev stack's way) and pprof is
// nowhere.
func TestInternalListener(t *testing.T) {
	g := startGateway(t, func(c *edge.Config) { c.InternalListen = "127.0.0.1:0" })
	pub, internal := "http://"+g.s.Addr(), "http://"+g.s.InternalAddr()
	if g.s.InternalAddr() == "" || g.s.InternalAddr() == g.s.Addr() {
		t.Fatalf("internal address %q, public %q", g.s.InternalAddr(), g.s.Addr())
	}
	code, body := get(t, internal+"/metrics", nil)
	for _, want := range []string{"switchyard_build_info{", "switchyard_gateway_send_queue_bytes", "switchyard_nats_connected 1", "switchyard_redis_connected", "go_goroutines", "process_"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("internal /metrics: %d, missing %q", code, want)
		}
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/healthz", "/readyz"} {
		if code, body := get(t, internal+p, nil); code != 200 {
			t.Errorf("internal %s: %d %s", p, code, body)
		}
	}
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/healthz", "/readyz"} {
		if code, _ := get(t, pub+p, nil); code != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404 (internal only)", p, code)
		}
	}

	plain := startGateway(t, nil)
	pub = "http://" + plain.s.Addr()
	if code, body := get(t, pub+"/metrics", nil); code != 200 || !strings.Contains(body, "switchyard_build_info{") {
		t.Errorf("without an internal listener, public /metrics: %d", code)
	}
	if code, _ := get(t, pub+"/debug/pprof/", nil); code != http.StatusNotFound {
		t.Errorf("without an internal listener, public pprof: %d, want 404", code)
	}
}

// dial opens a WebSocket, returning the HTTP status of a refused upgrade.
func dial(t *testing.T, url string, header http.Header) (*websocket.Conn, int) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, http.StatusSwitchingProtocols
}

// readFrames reads until a frame of type want or the socket's end, and
// returns the frame types read and the end (a *websocket.CloseError when
// the hub closed).
func readUntil(t *testing.T, c *websocket.Conn, want string) (types []string, end error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return types, err
		}
		var f struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(data, &f)
		types = append(types, f.Type)
		if f.Type == want {
			return types, nil
		}
	}
}

func closeCode(err error) (int, string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return 0, err.Error()
}
