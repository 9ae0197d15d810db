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
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// benchDialect renders with the runtime/client codec, as the gateway does.
type benchDialect struct{ probe }

func (benchDialect) Render(env *syv1.Envelope, role kind.Role) (Frame, error) {
	f, err := amurg.Encode(env, role)
	return Text(f), err
}

// benchSockets opens n real WebSockets over loopback whose peers read and
// discard, and returns the server-side sockets.
func benchSockets(b *testing.B, s *Server, n int, o ws.Options) []*Conn {
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
	var out []*Conn
	d := &benchDialect{}
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
		out = append(out, &Conn{id: fmt.Sprint(i), s: s, d: d, role: kind.RoleClient, ws: <-conns, framesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})})
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
			s := &Server{tracer: noop.NewTracerProvider().Tracer(""), conns: map[string]*Conn{}}
			s.m = newMetrics(prometheus.NewRegistry(), s)
			tp := &topic{session: "bench", subs: map[*Conn]*subscription{}}
			for _, c := range benchSockets(b, s, subs, o) {
				tp.subs[c] = &subscription{tp: tp, live: true}
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
				tps.deliver(ctx, tp, env)
			}
			b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
