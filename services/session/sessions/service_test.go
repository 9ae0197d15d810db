package sessions

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestUserQuotaAndSeqFloor runs one session-service replica on an embedded
// NATS: a user over SY_USER_MESSAGES_PER_MINUTE gets a directed
// error{quota_exceeded} and the frame is neither stored nor sent on, and
// the session's last seq reaches its record (the floor).
func TestUserQuotaAndSeqFloor(t *testing.T) {
	_, b := testenv.Streams(t)
	cfg := Config{
		Common:  config.Common{Partitions: 2, RequestTimeout: 5 * time.Second},
		AckWait: time.Second, PermissionTimeout: time.Minute, SweepInterval: time.Second,
		SeqFloorInterval: 50 * time.Millisecond, UserMessagesPerMinute: 2, UserBytesPerHour: 1 << 20,
	}
	tel := &telemetry.Telemetry{Tracer: noop.NewTracerProvider().Tracer("test"),
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), Registry: prometheus.NewRegistry()}
	s := New(cfg, b, tel)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ctx := t.Context()
	cat, err := catalog.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	const sid = "s-quota"
	if err := cat.CreateSession(ctx, &syv1.SessionInfo{Id: sid, UserId: "alice", RuntimeId: "rt1", Status: catalog.StatusActive}); err != nil {
		t.Fatal(err)
	}
	errs, err := b.NC.SubscribeSync(bus.PodSubject("gw-1"))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		t.Fatal(err)
	}
	watch, err := kv.Watch(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Stop() }()

	client := &syv1.Route{Pod: "gw-1", ConnId: "c1", Dialect: kind.RoleClient.String()}
	runtime := &syv1.Route{Pod: "gw-2", ConnId: "c2", Dialect: kind.RoleRuntime.String()}
	publish := func(env *syv1.Envelope) {
		t.Helper()
		if _, err := b.Publish(ctx, bus.InboundSubject(cfg.Partitions, sid), env); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range []string{"m1", "m2", "m3"} {
		publish(&syv1.Envelope{Id: "msg-" + m, Type: kind.UserMessage, SessionId: sid, UserId: "alice", Origin: client,
			Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: m, Content: "hello"}}})
		if i < 2 {
			publish(&syv1.Envelope{Id: "done-" + m, Type: kind.TurnCompleted, SessionId: sid, RuntimeId: "rt1", Origin: runtime,
				Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: sid, InResponseTo: m}}})
		}
	}
	msg, err := errs.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no error frame for the third message in a minute: %v", err)
	}
	_, e, err := bus.Decode(ctx, msg.Data, msg.Header)
	if err != nil {
		t.Fatal(err)
	}
	if e.GetError().GetCode() != errcode.QuotaExceeded || e.GetId() != "msg-m3.err" || e.GetTarget().GetConnId() != "c1" {
		t.Fatalf("error frame: %v", e)
	}
	st, err := transcript.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	end, err := st.Last(ctx, sid)
	if err != nil || end.Seq != 4 { // m1, turn.completed, m2, turn.completed
		t.Fatalf("transcript end %+v, %v; want seq 4 (m3 not stored)", end, err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-watch.Updates():
			if u == nil {
				continue
			}
			info := &syv1.SessionInfo{}
			_ = proto.Unmarshal(u.Value(), info)
			if info.GetLastSeq() == 4 {
				return
			}
			if info.GetLastSeq() > 4 {
				t.Fatalf("floor %d past the transcript's end", info.GetLastSeq())
			}
		case <-deadline:
			t.Fatal("the session's last seq never reached its record")
		}
	}
}

// SY_PARTITION_WINDOW outside 1..1024 is refused by name.
func TestConfigPartitionWindow(t *testing.T) {
	var cfg Config
	config.Defaults(&cfg)
	for _, n := range []int{0, -1, 1025} {
		cfg.PartitionWindow = n
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "SY_PARTITION_WINDOW") {
			t.Errorf("window %d: %v", n, err)
		}
	}
	cfg.PartitionWindow = 32
	if err := cfg.Validate(); err != nil {
		t.Errorf("window 32: %v", err)
	}
}
