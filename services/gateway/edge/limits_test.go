package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// gate is a test dialect on /ws/gate whose sockets start anonymous, as a
// runtime before its hello. Text frames: "auth:<name>" authenticates
// (answer "authed", or close 4029 at the principal cap); "ingest:<ref>:<n>"
// ingests an agent.output of n bytes with envelope id ref; anything else is
// answered "got:<bytes>". Error envelopes render "error:<id>:<code>".
type gate struct{}

func (gate) Name() string    { return "gate" }
func (gate) Paths() []string { return []string{"/ws/gate"} }
func (gate) Accept(*http.Request) (Admission, error) {
	return Admission{Role: kind.RoleRuntime}, nil
}
func (gate) Open(*Conn)   {}
func (gate) Closed(*Conn) {}
func (gate) Render(env *syv1.Envelope, _ kind.Role) (Frame, error) {
	if e := env.GetError(); e != nil {
		return Text([]byte("error:" + env.GetId() + ":" + e.GetCode())), nil
	}
	return Text([]byte(env.GetType())), nil
}
func (gate) Frame(c *Conn, f Frame) {
	text := string(f.Data)
	switch {
	case strings.HasPrefix(text, "auth:"):
		if err := c.Authenticate(strings.TrimPrefix(text, "auth:")); errors.Is(err, ErrTooManySockets) {
			c.Close(ReasonTooManySockets, "")
			return
		}
		_ = c.Send(Text([]byte("authed")))
	case strings.HasPrefix(text, "ingest:"):
		parts := strings.Split(text, ":")
		n, _ := strconv.Atoi(parts[2])
		c.Serial(func(context.Context) {
			c.Ingest(&syv1.Envelope{Id: parts[1], Type: kind.AgentOutput, SessionId: "s1",
				Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "s1", Content: strings.Repeat("x", n)}}})
			_ = c.Send(Text([]byte("ingested:" + parts[1])))
		})
	case strings.HasPrefix(text, "follow:"):
		session := strings.TrimPrefix(text, "follow:")
		c.Do(func(ctx context.Context) {
			_ = c.Follow(ctx, session, 0, func(_ context.Context, p Page) error {
				return c.Send(Text([]byte(fmt.Sprintf("page:first=%d:trimmed=%v:n=%d:last=%d", p.FirstSeq, p.Trimmed, len(p.Messages), p.Last))))
			})
		})
	default:
		_ = c.Send(Text([]byte("got:" + strconv.Itoa(len(f.Data)))))
	}
}

// startGate runs a core with the gate and probe dialects; b nil: a NATS
// of its own (testenv).
func startGate(t *testing.T, b *bus.Bus, mod func(*Config)) *Server {
	t.Helper()
	url := ""
	if b == nil {
		url, b = testenv.Streams(t)
	}
	r := testenv.StartRedis(t)
	cfg := Defaults()
	cfg.Pod, cfg.NATSURL, cfg.RedisURL, cfg.Listen = "gate-test", url, r.URL(), "127.0.0.1:0"
	cfg.DrainJitter = 0
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "gw-test", Pod: cfg.Pod, LogOutput: io.Discard, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, b, r.Client(t), tel)
	if err != nil {
		t.Fatal(err)
	}
	s.Register(gate{})
	s.Register(&probe{release: make(chan struct{})})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func dialGate(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/gate", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// next reads the next data frame (answering pings meanwhile).
func next(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

// closedWith reads until the socket closes and returns the close code.
func closedWith(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket ended without a close frame: %v", err)
		}
		return ce.Code
	}
}

func send(t *testing.T, c *websocket.Conn, data []byte) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
}

// TestAuthDeadline: 20 sockets that never authenticate are all closed
// 1008 (with an auth_failed error first) within SY_AUTH_TIMEOUT; one that
// authenticates stays open past it.
func TestAuthDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startGate(t, nil, func(c *Config) { c.AuthTimeout = timeout })
	ok := dialGate(t, s)
	send(t, ok, []byte("auth:rt-1"))
	if got := next(t, ok); got != "authed" {
		t.Fatalf("auth answered %q", got)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 20 {
		c := dialGate(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			_, data, err := c.ReadMessage()
			if err != nil || string(data) != "error::auth_failed" {
				t.Errorf("socket %d: first frame %q (%v), want the auth_failed error", i, data, err)
				return
			}
			if code := closedWith(t, c); code != ws.ClosePolicy {
				t.Errorf("socket %d closed %d, want %d", i, code, ws.ClosePolicy)
			}
		}()
	}
	wg.Wait()
	if el := time.Since(start); el > timeout+5*time.Second {
		t.Fatalf("closed after %v, deadline %v", el, timeout)
	}
	send(t, ok, []byte("still here"))
	if got := next(t, ok); got != "got:10" {
		t.Fatalf("authenticated socket after the deadline: %q", got)
	}
}

// TestPreAuthFrameLimit: a 1 MiB frame before authentication closes 1009;
// once authenticated the same frame is read.
func TestPreAuthFrameLimit(t *testing.T) {
	s := startGate(t, nil, nil)
	big := make([]byte, 1<<20)
	c := dialGate(t, s)
	_ = c.WriteMessage(websocket.TextMessage, big) // may fail: the hub closes while it is sent
	if code := closedWith(t, c); code != ws.CloseTooBig {
		t.Fatalf("1 MiB before auth: close %d, want %d", code, ws.CloseTooBig)
	}
	a := dialGate(t, s)
	send(t, a, []byte("auth:rt-1"))
	next(t, a)
	send(t, a, big)
	if got := next(t, a); got != "got:1048576" {
		t.Fatalf("1 MiB after auth: %q", got)
	}
}

// TestSocketsPerIPCap: the address cap answers the upgrade 429; a freed
// place can be taken again.
func TestSocketsPerIPCap(t *testing.T) {
	s := startGate(t, nil, func(c *Config) { c.MaxSocketsPerIP = 3 })
	var held []*websocket.Conn
	for range 3 {
		held = append(held, dialGate(t, s))
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/gate", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th socket from one address: %v %v, want 429", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "too_many_sockets") {
		t.Fatalf("429 body %q does not name too_many_sockets", body)
	}
	_ = held[0].Close()
	deadline := time.Now().Add(waitLimit)
	for s.SocketsFrom("127.0.0.1") >= 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dialGate(t, s)
}

// TestSocketsPerPrincipalCap: a principal named at the upgrade is refused
// 429 at the cap; one that authenticates later is closed 4029.
func TestSocketsPerPrincipalCap(t *testing.T) {
	s := startGate(t, nil, func(c *Config) { c.MaxSocketsPerPrincipal = 2 })
	dialProbe(t, s)
	dialProbe(t, s)
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/probe", nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("3rd socket of user u: %v %v, want 429", resp, err)
	}
	for range 2 {
		c := dialGate(t, s)
		send(t, c, []byte("auth:rt-1"))
		if got := next(t, c); got != "authed" {
			t.Fatalf("auth: %q", got)
		}
	}
	c := dialGate(t, s)
	send(t, c, []byte("auth:rt-1"))
	if code := closedWith(t, c); code != ws.CloseTooManySockets {
		t.Fatalf("3rd socket of rt-1: close %d, want %d", code, ws.CloseTooManySockets)
	}
	other := dialGate(t, s) // another principal is not affected
	send(t, other, []byte("auth:rt-2"))
	if got := next(t, other); got != "authed" {
		t.Fatalf("rt-2: %q", got)
	}
}

// TestReadBudgetUnderConcurrentBigFrames: 8 sockets sending 10 MiB frames
// at once never hold more than the pod's read budget; every frame is read
// (it waited for the budget), and the budget is all given back.
func TestReadBudgetUnderConcurrentBigFrames(t *testing.T) {
	const budget = 24 << 20
	s := startGate(t, nil, func(c *Config) {
		c.MaxMessageBytes, c.ReadBudgetBytes, c.ReadBudgetWait = 11<<20, budget, time.Minute
		c.RuntimeRateLimit = 0
	})
	big := make([]byte, 10<<20)
	var wg sync.WaitGroup
	for i := range 8 {
		c := dialGate(t, s)
		send(t, c, []byte("auth:rt-"+strconv.Itoa(i)))
		next(t, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if err := c.WriteMessage(websocket.TextMessage, big); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				_ = c.SetReadDeadline(time.Now().Add(time.Minute))
				if _, data, err := c.ReadMessage(); err != nil || string(data) != "got:10485760" {
					t.Errorf("socket %d: %q %v", i, data, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b := s.ReadBudget()
	if b.Peak() > budget || b.Peak() < 8<<20 {
		t.Fatalf("read budget peak %d bytes; budget %d", b.Peak(), budget)
	}
	if b.Waits() == 0 {
		t.Fatalf("no frame waited: 8 concurrent 10 MiB frames fit a 24 MiB budget?")
	}
	if b.InUse() != 0 {
		t.Fatalf("read budget %d bytes still held after every frame was handled", b.InUse())
	}
}

// TestDrainingAnswers503: while a gateway drains, an upgrade gets HTTP 503
// (docs/errors.md), not a refused connection.
func TestDrainingAnswers503(t *testing.T) {
	s := startGate(t, nil, nil)
	// A peer that never reads holds the drain for the close grace (1 s):
	// its close reply never comes.
	// (Kept referenced: a collected conn would be closed by its finalizer.)
	quiet, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	// The handshake answer precedes the socket's registration: wait for
	// it, or the drain may find no socket to wait for.
	for deadline, registered := time.Now().Add(10*time.Second), false; !registered; {
		s.mu.Lock()
		registered = len(s.conns) == 1
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the socket was never registered")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/probe", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining (%v after the drain began; shutdown done: %v): %v %v, want 503", time.Since(t0), len(done) > 0, resp, err)
	}
	<-done
}

// TestJSONDepthBound: a text frame nesting deeper than MaxJSONDepth gets
// invalid_message from the core, whatever the dialect; one at the bound
// reaches the dialect.
func TestJSONDepthBound(t *testing.T) {
	s := startGate(t, nil, nil)
	c := dialGate(t, s)
	send(t, c, []byte(strings.Repeat("[", MaxJSONDepth+1)+strings.Repeat("]", MaxJSONDepth+1)))
	if got := next(t, c); got != "error::invalid_message" {
		t.Fatalf("65 deep: %q", got)
	}
	send(t, c, []byte(strings.Repeat("[", 5000)))
	if got := next(t, c); got != "error::invalid_message" {
		t.Fatalf("5000 deep: %q", got)
	}
	send(t, c, []byte(strings.Repeat("[", MaxJSONDepth)+strings.Repeat("]", MaxJSONDepth)))
	if got := next(t, c); got != "got:128" {
		t.Fatalf("64 deep: %q", got)
	}
}

// TestMessageTooLargeForNATS: against a NATS server with its default
// 1 MiB max_payload, a frame whose envelope does not fit is refused at the
// edge with message_too_large naming the limit and carrying the frame's
// id — not unavailable ("retry"); a smaller one is stored.
func TestMessageTooLargeForNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(ns.Shutdown)
	b := testenv.Bus(t, ns.ClientURL(), "gate")
	if mp := b.NC.MaxPayload(); mp != 1<<20 {
		t.Fatalf("stock NATS max_payload %d", mp)
	}
	s := startGate(t, b, func(c *Config) { c.NATSURL = ns.ClientURL() })
	c := dialGate(t, s)
	send(t, c, []byte("auth:rt-1"))
	next(t, c)
	send(t, c, []byte("ingest:big-1:1100000"))
	if got := next(t, c); got != "error:big-1:message_too_large" {
		t.Fatalf("1.1 MB envelope: %q", got)
	}
	next(t, c) // ingested:big-1
	send(t, c, []byte("ingest:small-1:1000"))
	if got := next(t, c); got != "ingested:small-1" {
		t.Fatalf("small envelope: %q", got)
	}
	if !strings.Contains(maxPayloadText("this agent.output", 1100000, 1<<20), "max_payload is 1048576") {
		t.Fatal("the refusal does not name the limit")
	}
}

// TestReplayPageSaysTrimmed: the core hands a dialect's PageFunc the
// transcript's first stored seq and whether retention trimmed the range,
// so history.response can show first_seq / trimmed.
func TestReplayPageSaysTrimmed(t *testing.T) {
	s := startGate(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.Bus().EnsureStreams(ctx, bus.Limits{TranscriptMaxMsgsPerSession: 3, Owner: true}); err != nil {
		t.Fatal(err)
	}
	w := transcript.NewWriter(s.Transcripts())
	for i := range 8 {
		if _, err := w.Append(ctx, &syv1.Envelope{Id: "m" + strconv.Itoa(i), Type: kind.AgentOutput, SessionId: "loud",
			Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "loud"}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := dialGate(t, s)
	send(t, c, []byte("auth:rt-1"))
	next(t, c)
	send(t, c, []byte("follow:loud"))
	if got := next(t, c); got != "page:first=6:trimmed=true:n=3:last=8" {
		t.Fatalf("replay of a trimmed session: %q", got)
	}
}
