package sessions

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// BenchmarkPartition measures how many agent.output frames one ordered
// partition handles per second: b.N frames of 10 sessions (all on the one
// partition) wait in SY_IN, then one session-service replica consumes them
// into SY_EVT. Embedded NATS with file storage, in this process, as in the
// dev stack. Profile the handling loop with -cpuprofile.
//
//	go test ./services/session/sessions -run '^$' -bench Partition -benchtime 3000x -cpuprofile /tmp/part.prof
//
// BenchmarkPartitionWindow does the same for several SY_PARTITION_WINDOW
// values (how many frames the partition's owner pulls ahead).
func BenchmarkPartition(b *testing.B) { benchmarkPartition(b, 0) }

func BenchmarkPartitionWindow(b *testing.B) {
	for _, w := range []int{1, 8, 32, 128} {
		b.Run("window="+strconv.Itoa(w), func(b *testing.B) { benchmarkPartition(b, w) })
	}
}

func benchmarkPartition(b *testing.B, window int) {
	_, bs := testenv.Streams(b)
	ctx := context.Background()
	cfg := Config{
		Common:  config.Common{Partitions: 1, RequestTimeout: 5 * time.Second},
		AckWait: 5 * time.Second, PermissionTimeout: time.Minute, SweepInterval: time.Hour,
		SeqFloorInterval: time.Second, TranscriptMaxMsgsPerSession: -1, PartitionWindow: window,
	}
	tel := &telemetry.Telemetry{Tracer: noop.NewTracerProvider().Tracer("bench"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()}
	cat, err := catalog.Open(ctx, bs)
	if err != nil {
		b.Fatal(err)
	}
	const sessions = 10
	for i := range sessions {
		if err := cat.CreateSession(ctx, &syv1.SessionInfo{Id: "s" + strconv.Itoa(i), UserId: "u", RuntimeId: "rt1", Status: catalog.StatusActive}); err != nil {
			b.Fatal(err)
		}
	}
	rt := &syv1.Route{Pod: "gw-1", ConnId: "c1", Role: kind.RoleRuntime.String()}
	content := string(make([]byte, 100))
	var acks []jetstream.PubAckFuture
	for i := range b.N {
		sid := "s" + strconv.Itoa(i%sessions)
		env := &syv1.Envelope{Id: "o" + strconv.Itoa(i), Type: kind.AgentOutput, SessionId: sid, RuntimeId: "rt1", Origin: rt,
			Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: sid, MessageId: "m", Channel: "stdout", Content: content}}}
		m, err := bus.NewMsg(ctx, bus.InboundSubject(cfg.Partitions, sid), env)
		if err != nil {
			b.Fatal(err)
		}
		f, err := bs.JS.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	s := New(cfg, bs, tel)
	b.ResetTimer()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	deadline := time.Now().Add(5 * time.Minute)
	for counterValue(s.m.appended) < float64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("appended %v of %d", counterValue(s.m.appended), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
