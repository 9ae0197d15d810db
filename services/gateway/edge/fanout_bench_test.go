package edge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// benchSockets opens n real WebSockets over loopback whose peers read and
// discard, and returns the server-side sockets.
func benchSockets(b *testing.B, n int, o ws.Options) []*socket {
	conns := make(chan *ws.Conn, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Upgrader().Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn := ws.New(c, o)
		conns <- conn
		_ = conn.ReadLoop(func(bool, []byte) {})
	}))
	b.Cleanup(srv.Close)
	var out []*socket
	for i := 0; i < n; i++ {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		go func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		out = append(out, &socket{id: fmt.Sprint(i), role: amurg.RoleClient, conn: <-conns, sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})})
	}
	return out
}

// BenchmarkFanout measures the gateway's per-event work for one session
// with 10 local subscribers: render once, queue the shared bytes on each
// socket, and the writers' socket writes (the reported time includes the
// writers keeping up, since queues are bounded). No Redis, no NATS.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			o := ws.Options{PingPeriod: time.Hour, PongWait: 2 * time.Hour, WriteWait: 10 * time.Second, MaxMessageBytes: 1 << 20, QueueFrames: 1 << 20, QueueBytes: 1 << 30}
			s := &Server{tracer: noop.NewTracerProvider().Tracer(""), sockets: map[string]*socket{}}
			s.m = newMetrics(prometheus.NewRegistry(), s)
			tp := &topic{session: "bench", subs: map[*socket]*subscription{}}
			for _, sk := range benchSockets(b, subs, o) {
				tp.subs[sk] = &subscription{live: true}
			}
			tps := &topics{s: s, m: map[string]*topic{"bench": tp}}
			env := &syv1.Envelope{Type: "agent.output", SessionId: "bench", Ts: "2024-01-15T10:30:06Z",
				Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: "bench", MessageId: "m", Channel: "stdout", Content: strings.Repeat("x", 100)}}}
			ctx := context.Background()
			b.ReportAllocs()
			seq := int64(0)
			for b.Loop() {
				seq++
				env.Seq = seq
				tp.mu.Lock()
				tps.deliver(ctx, tp, env)
				tp.mu.Unlock()
			}
			b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
