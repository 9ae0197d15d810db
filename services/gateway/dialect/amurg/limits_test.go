package amurg

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// startAmurg runs the dialect on a core; the test answers the relay's
// hellos with answer (nil: never).
func startAmurg(t *testing.T, mod func(*edge.Config), answer func(*syv1.Envelope) *syv1.HelloAck) *edge.Server {
	t.Helper()
	s, b := startCore(t, mod)
	sub, err := b.NC.QueueSubscribe(bus.SubjRelayHello(), bus.QueueRelay, func(m *nats.Msg) {
		_, env, err := bus.Decode(context.Background(), m.Data, m.Header)
		if err != nil || answer == nil {
			return
		}
		if ack := answer(env); ack != nil {
			_ = b.Reply(context.Background(), m, &syv1.Envelope{Type: codec.TypeHelloAck, Body: &syv1.Envelope_HelloAck{HelloAck: ack}})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return s
}

// startCore runs a gateway core serving the dialect on NATS and Redis of
// its own (no relay: the test is the relay) and returns it with the bus.
func startCore(t *testing.T, mod func(*edge.Config)) (*edge.Server, *bus.Bus) {
	t.Helper()
	url, b := testenv.Streams(t)
	r := testenv.StartRedis(t)
	cfg := edge.Defaults()
	cfg.Pod, cfg.NATSURL, cfg.RedisURL, cfg.Listen, cfg.DrainJitter = "amurg-limits", url, r.URL(), "127.0.0.1:0", 0
	if mod != nil {
		mod(&cfg)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "gw-test", Pod: cfg.Pod, LogOutput: io.Discard, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := edge.New(cfg, b, r.Client(t), tel)
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, b
}

func dialRuntime(t *testing.T, s *edge.Server) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+PathRuntime, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readFrame returns the next frame's type and payload.code.
func readFrame(c *websocket.Conn) (typ, code string, err error) {
	_, data, err := c.ReadMessage()
	if err != nil {
		return "", "", err
	}
	var f struct {
		Type    string `json:"type"`
		Payload struct {
			Code string `json:"code"`
			OK   bool   `json:"ok"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(data, &f)
	return f.Type, f.Payload.Code, nil
}

func closeCode(c *websocket.Conn) int {
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			return -1
		}
	}
}

// TestRuntimeWithoutHelloClosed: 20 /ws/runtime sockets that send no hello
// get error{auth_failed} and close 1008 at SY_AUTH_TIMEOUT.
func TestRuntimeWithoutHelloClosed(t *testing.T) {
	s := startAmurg(t, func(c *edge.Config) { c.AuthTimeout = 300 * time.Millisecond }, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		c := dialRuntime(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if typ, code, err := readFrame(c); typ != "error" || code != errcode.AuthFailed {
				t.Errorf("socket %d: %s %s %v, want error auth_failed", i, typ, code, err)
			}
			if code := closeCode(c); code != 1008 {
				t.Errorf("socket %d: close %d, want 1008", i, code)
			}
		}()
	}
	wg.Wait()
}

// TestRuntimeBigFrameBeforeHello: a 1 MiB frame before runtime.hello
// closes 1009; after an accepted hello the same size is read.
func TestRuntimeBigFrameBeforeHello(t *testing.T) {
	s := startAmurg(t, nil, func(*syv1.Envelope) *syv1.HelloAck { return &syv1.HelloAck{Ok: true} })
	big := `{"type":"agent.output","session_id":"s1","payload":{"content":"` + strings.Repeat("x", 1<<20) + `"}}`
	c := dialRuntime(t, s)
	_ = c.WriteMessage(websocket.TextMessage, []byte(big))
	if code := closeCode(c); code != 1009 {
		t.Fatalf("1 MiB before hello: close %d, want 1009", code)
	}
	a := dialRuntime(t, s)
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"runtime.hello","payload":{"runtime_id":"r1","token":"t","endpoints":[]}}`)); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := readFrame(a); typ != "hello.ack" {
		t.Fatalf("after hello: %s %v", typ, err)
	}
	if err := a.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	// Read and handled: the session does not exist, so the hub answers.
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		typ, _, err := readFrame(a)
		if err != nil {
			t.Fatalf("authenticated 1 MiB frame ended the socket: %v", err)
		}
		if typ == "pong" {
			return
		}
	}
}

// TestSlowHelloAnsweredBeforeDeadline: a hello the relay does not answer
// in time gets hello.ack{ok:false, code:unavailable} and close 1013 before
// the auth deadline would close it 1008.
func TestSlowHelloAnsweredBeforeDeadline(t *testing.T) {
	s := startAmurg(t, func(c *edge.Config) { c.AuthTimeout = time.Second }, func(*syv1.Envelope) *syv1.HelloAck { return nil })
	c := dialRuntime(t, s)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"runtime.hello","payload":{"runtime_id":"r1","token":"t","endpoints":[]}}`)); err != nil {
		t.Fatal(err)
	}
	typ, _, err := readFrame(c)
	if typ != "hello.ack" {
		t.Fatalf("slow hello: %s %v, want hello.ack", typ, err)
	}
	if code := closeCode(c); code != 1013 {
		t.Fatalf("slow hello: close %d, want 1013", code)
	}
}
