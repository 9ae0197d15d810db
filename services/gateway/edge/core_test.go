package edge

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const waitLimit = 10 * time.Second

// probe is a test dialect on /ws/probe. Text frames are commands:
// "block" queues work (Do) that waits for the test's release; "ping" is
// answered at once on the read loop; "after" is short work (Serial) that
// keeps its order behind queued work. A socket greets with "id:<conn id>";
// envelopes render as "<type>".
type probe struct{ release chan struct{} }

func (p *probe) Name() string    { return "probe" }
func (p *probe) Paths() []string { return []string{"/ws/probe"} }
func (p *probe) Accept(*http.Request) (Admission, error) {
	return Admission{Role: kind.RoleClient, Principal: "u"}, nil
}
func (p *probe) Open(c *Conn)   { _ = c.Send(Text([]byte("id:" + c.ID()))) }
func (p *probe) Closed(c *Conn) {}
func (p *probe) Render(env *syv1.Envelope, _ kind.Role) (Frame, error) {
	return Text([]byte(env.GetType())), nil
}
func (p *probe) Frame(c *Conn, f Frame) {
	switch string(f.Data) {
	case "block":
		c.Do(func(ctx context.Context) {
			select {
			case <-p.release:
				_ = c.Send(Text([]byte("unblocked")))
			case <-ctx.Done():
			}
		})
	case "ping":
		_ = c.Send(Text([]byte("pong")))
	case "after":
		c.Serial(func(context.Context) { _ = c.Send(Text([]byte("after"))) })
	}
}

// startCore runs a core with the probe dialect on real NATS and Redis.
func startCore(t *testing.T, p *probe, mod func(*Config)) *Server {
	t.Helper()
	url, b := testenv.Streams(t)
	r := testenv.StartRedis(t)
	cfg := Defaults()
	cfg.Pod, cfg.NATSURL, cfg.RedisURL, cfg.Listen = "core-test", url, r.URL(), "127.0.0.1:0"
	cfg.DrainJitter = 0
	if mod != nil {
		mod(&cfg)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "gw-test", Pod: cfg.Pod, LogOutput: io.Discard, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, b, r.Client(t), tel)
	if err != nil {
		t.Fatal(err)
	}
	s.Register(p)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// peer is a test client reading every frame into a channel.
type peer struct {
	c      *websocket.Conn
	frames chan string
	id     string
}

func dialProbe(t *testing.T, s *Server) *peer {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p := &peer{c: c, frames: make(chan string, 64)}
	go func() {
		defer close(p.frames)
		for {
			_, data, err := c.ReadMessage() // also answers the hub's pings
			if err != nil {
				return
			}
			p.frames <- string(data)
		}
	}()
	p.id = strings.TrimPrefix(p.expect(t, "id:"), "id:")
	return p
}

func (p *peer) send(t *testing.T, text string) {
	t.Helper()
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// expect returns the next frame, which must start with prefix.
func (p *peer) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			t.Fatalf("socket ended while waiting for %q", prefix)
		}
		if !strings.HasPrefix(f, prefix) {
			t.Fatalf("frame %q, want %q", f, prefix)
		}
		return f
	case <-time.After(waitLimit):
		t.Fatalf("no %q within %s", prefix, waitLimit)
	}
	return ""
}

// TestLongWorkLeavesTheReadLoop: while a socket's long work (a replay, a
// hello waiting on the relay) runs, its read loop goes on reading (pongs,
// pings) — past the pong wait — and short work queued behind it keeps its
// order.
func TestLongWorkLeavesTheReadLoop(t *testing.T) {
	p := &probe{release: make(chan struct{})}
	s := startCore(t, p, func(c *Config) { c.PingPeriod, c.PongWait, c.RateLimit = 50*time.Millisecond, 300*time.Millisecond, 0 })
	c := dialProbe(t, s)
	c.send(t, "block")
	c.send(t, "after")
	// Answered although the blocked work is ahead of it: the reader reads.
	// Several rounds cover more than the pong wait.
	deadline := time.Now().Add(2 * s.cfg.PongWait)
	for time.Now().Before(deadline) {
		c.send(t, "ping")
		c.expect(t, "pong")
	}
	close(p.release)
	c.expect(t, "unblocked")
	c.expect(t, "after")
}

// TestSlowDeliveryBlocksOnlyItsSocket: a directed delivery that waits (a
// file.upload loading its bytes) delays only its own socket; the pod's
// other directed frames are delivered and confirmed meanwhile.
func TestSlowDeliveryBlocksOnlyItsSocket(t *testing.T) {
	p := &probe{release: make(chan struct{})}
	s := startCore(t, p, nil)
	stuck := make(chan struct{})
	s.OnDeliver("slow.kind", func(ctx context.Context, _ *Conn, _ *syv1.Envelope) error {
		close(stuck)
		select {
		case <-p.release:
		case <-ctx.Done():
		}
		return nil
	})
	a, b := dialProbe(t, s), dialProbe(t, s)
	ask := func(typ, conn string) <-chan error {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			reply, err := s.bus.Request(ctx, bus.PodSubject(s.pod), &syv1.Envelope{Id: typ, Type: typ, Target: &syv1.Route{Pod: s.pod, ConnId: conn}})
			if err == nil && reply.GetError() != nil {
				err = errorString(reply.GetError().GetMessage())
			}
			done <- err
		}()
		return done
	}
	slow := ask("slow.kind", a.id)
	<-stuck
	if err := <-ask("fast.kind", b.id); err != nil {
		t.Fatalf("delivery to another socket: %v", err)
	}
	b.expect(t, "fast.kind")
	select {
	case err := <-slow:
		t.Fatalf("slow delivery confirmed before its hook returned (%v)", err)
	default:
	}
	close(p.release)
	if err := <-slow; err != nil {
		t.Fatalf("slow delivery: %v", err)
	}
	a.expect(t, "slow.kind")
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestIdleSocketsPark: an idle client socket holds no reader goroutine
// (switchyard_gateway_sockets_parked counts it), lives on its keepalive
// alone past several pong waits, and wakes for its next frame.
func TestIdleSocketsPark(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sockets park only on Linux (epoll)")
	}
	p := &probe{release: make(chan struct{})}
	s := startCore(t, p, func(c *Config) { c.PingPeriod, c.PongWait = 50*time.Millisecond, 300*time.Millisecond })
	before := ws.Parked()
	const sockets = 5
	pings := make(chan struct{}, 1024)
	peers := make([]*peer, sockets)
	for i := range peers {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/probe", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		c.SetPingHandler(func(data string) error {
			pings <- struct{}{}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		pr := &peer{c: c, frames: make(chan string, 64)}
		go func() {
			defer close(pr.frames)
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				pr.frames <- string(data)
			}
		}()
		pr.expect(t, "id:")
		peers[i] = pr
	}
	waitParked := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for ws.Parked() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d sockets parked, want %d", ws.Parked(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitParked(before + sockets)
	// Three pong waits' worth of pings with nothing else: nobody is cut off.
	for range sockets * 3 * int(s.cfg.PongWait/s.cfg.PingPeriod) {
		select {
		case <-pings:
		case <-time.After(waitLimit):
			t.Fatal("no ping")
		}
	}
	for i, pr := range peers {
		select {
		case f, ok := <-pr.frames:
			t.Fatalf("idle socket %d: frame %q (open %v)", i, f, ok)
		default:
		}
		pr.send(t, "ping")
		pr.expect(t, "pong")
	}
	waitParked(before + sockets)
}
