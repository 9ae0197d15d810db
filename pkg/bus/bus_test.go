package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a Bus on url, closed at the end of the test.
func connect(t *testing.T, url, name string) *bus.Bus { return testenv.Bus(t, url, name) }

// stack is a NATS server with Switchyard's streams.
func stack(t *testing.T) (string, *bus.Bus) { return testenv.Streams(t) }

func TestEnsureStreamsIdempotent(t *testing.T) {
	n := testenv.NATS(t)
	b := connect(t, n.URL(), "test")
	ctx := testCtx(t, 20*time.Second)
	lim := bus.Limits{DedupeWindow: 30 * time.Second, TranscriptMaxAge: time.Hour, TranscriptMaxBytes: 1 << 30, Owner: true}
	for i := 0; i < 2; i++ {
		if err := b.EnsureStreams(ctx, lim); err != nil {
			t.Fatalf("EnsureStreams #%d: %v", i+1, err)
		}
	}
	// Something the services keep: a message in a stream and a KV entry
	// survive a third call (a restarted service).
	if _, err := b.Publish(ctx, bus.InboundSubject(4, "s1"), &syv1.Envelope{Id: "keep", Type: "ping", SessionId: "s1"}); err != nil {
		t.Fatal(err)
	}
	kv, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "s1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureStreams(ctx, lim); err != nil {
		t.Fatalf("EnsureStreams #3: %v", err)
	}
	want := map[string]struct {
		subject   string
		retention jetstream.RetentionPolicy
		direct    bool
	}{
		bus.StreamInbound():    {"sy.in.>", jetstream.WorkQueuePolicy, false},
		bus.StreamRuntime():    {"sy.rt.>", jetstream.WorkQueuePolicy, false},
		bus.StreamTranscript(): {"sy.evt.>", jetstream.LimitsPolicy, true},
	}
	for name, w := range want {
		st, err := b.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Config
		if len(c.Subjects) != 1 || c.Subjects[0] != w.subject || c.Retention != w.retention || c.AllowDirect != w.direct || c.Duplicates != 30*time.Second {
			t.Errorf("%s: subjects %v retention %v direct %v duplicates %v", name, c.Subjects, c.Retention, c.AllowDirect, c.Duplicates)
		}
		if name == bus.StreamTranscript() && (c.MaxAge != time.Hour || c.MaxBytes != 1<<30) {
			t.Errorf("%s: max age %v bytes %d", name, c.MaxAge, c.MaxBytes)
		}
		if name == bus.StreamInbound() && info.State.Msgs != 1 {
			t.Errorf("%s lost its message: %d", name, info.State.Msgs)
		}
	}
	if e, err := kv.Get(ctx, "s1"); err != nil || string(e.Value()) != "x" {
		t.Errorf("KV entry after EnsureStreams: %v %v", e, err)
	}
	if _, err := b.KV(ctx, bus.BucketEndpoints()); err != nil {
		t.Error(err)
	}
	// Zero limits fall back to the defaults (for the owner, who updates).
	if err := b.EnsureStreams(ctx, bus.Limits{Owner: true}); err != nil {
		t.Fatal(err)
	}
	st, _ := b.JS.Stream(ctx, bus.StreamTranscript())
	info, _ := st.Info(ctx)
	if info.Config.Duplicates != bus.DefaultLimits.DedupeWindow || info.Config.MaxAge != bus.DefaultLimits.TranscriptMaxAge {
		t.Errorf("defaults not applied: %v %v", info.Config.Duplicates, info.Config.MaxAge)
	}
}

// The same envelope id in the same session is stored once (a gateway
// retrying a publish); ids are scoped by session.
func TestPublishDedupe(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 10*time.Second)
	env := &syv1.Envelope{Id: "m-1", Type: "user.message", SessionId: "s1"}
	subj := bus.InboundSubject(4, "s1")
	first, err := b.Publish(ctx, subj, env)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Publish(ctx, subj, proto.Clone(env).(*syv1.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Errorf("first %+v second %+v: want the second to be a duplicate of the first", first, second)
	}
	other, err := b.Publish(ctx, bus.InboundSubject(4, "s2"), &syv1.Envelope{Id: "m-1", Type: "user.message", SessionId: "s2"})
	if err != nil || other.Duplicate {
		t.Errorf("same id in another session: %+v %v, want stored", other, err)
	}
	// Without an id nothing is deduplicated.
	for i := 0; i < 2; i++ {
		a, err := b.Publish(ctx, subj, &syv1.Envelope{Type: "ping", SessionId: "s1"})
		if err != nil || a.Duplicate {
			t.Errorf("id-less publish #%d: %+v %v", i, a, err)
		}
	}
	st, _ := b.JS.Stream(ctx, bus.StreamInbound())
	info, _ := st.Info(ctx)
	if info.State.Msgs != 4 {
		t.Errorf("stream holds %d messages, want 4", info.State.Msgs)
	}
	m, err := st.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) != "s1/m-1" || m.Header.Get(bus.HeaderType) != "user.message" {
		t.Errorf("headers %v", m.Header)
	}
}

func TestPublishExpectations(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 10*time.Second)
	subj := bus.TranscriptSubject("s1")
	_, err := b.Publish(ctx, subj, &syv1.Envelope{Type: "x", SessionId: "s1"}, jetstream.WithExpectLastSequencePerSubject(5))
	if !bus.IsWrongLastSequence(err) {
		t.Errorf("wrong expected seq: %v, want IsWrongLastSequence", err)
	}
	ack, err := b.Publish(ctx, subj, &syv1.Envelope{Type: "x", SessionId: "s1"}, jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil {
		t.Fatalf("expected 0 on an empty subject: %v", err)
	}
	if _, err := b.Publish(ctx, subj, &syv1.Envelope{Type: "x", SessionId: "s1"}, jetstream.WithExpectLastSequencePerSubject(0)); !bus.IsWrongLastSequence(err) {
		t.Errorf("second expected-0 publish: %v, want IsWrongLastSequence", err)
	}
	if _, err := b.Publish(ctx, subj, &syv1.Envelope{Type: "x", SessionId: "s1"}, jetstream.WithExpectLastSequencePerSubject(ack.Sequence)); err != nil {
		t.Errorf("correct expected seq: %v", err)
	}
	if bus.IsWrongLastSequence(nil) || bus.IsWrongLastSequence(errors.New("x")) {
		t.Error("IsWrongLastSequence true for unrelated errors")
	}
	if _, err := b.Publish(ctx, "nowhere.subject", &syv1.Envelope{Type: "x"}); err == nil {
		t.Error("publish to a subject no stream holds succeeded")
	}
}

// useTracing installs telemetry with an in-memory exporter (which also
// sets the global W3C propagator) and restores the previous propagator.
func useTracing(t *testing.T) trace.Tracer {
	t.Helper()
	prev := otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "bus-test", Pod: "p", Exporter: tracetest.NewInMemoryExporter(), LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel.Tracer
}

func TestTraceContextSurvivesMessage(t *testing.T) {
	tracer := useTracing(t)
	ctx, span := tracer.Start(context.Background(), "gateway.ingest")
	defer span.End()
	env := &syv1.Envelope{Id: "e1", Type: "agent.output", SessionId: "s1", Seq: 3}
	m, err := bus.NewMsg(ctx, "sy.in.0.s1", env)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("traceparent") == "" { // W3C name; NATS headers are case-sensitive
		t.Fatalf("no traceparent header: %v", m.Header)
	}
	got, out, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(out, env) {
		t.Errorf("envelope changed: %v", out)
	}
	sc := trace.SpanContextFromContext(got)
	if sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() || !sc.IsRemote() {
		t.Errorf("decoded span context %v, want remote child of %v", sc, span.SpanContext())
	}
	// Without headers the context is left alone; garbage is an error.
	if c2, _, err := bus.Decode(context.Background(), m.Data, nil); err != nil || trace.SpanContextFromContext(c2).IsValid() {
		t.Errorf("nil header: %v %v", trace.SpanContextFromContext(c2), err)
	}
	if _, _, err := bus.Decode(context.Background(), []byte{0xff, 0xff, 0xff}, nil); err == nil {
		t.Error("garbage decoded")
	}
}

// The trace started by the publisher is the parent of the handler's
// context on the consuming side, through a real JetStream round trip.
func TestTraceContextThroughPartitions(t *testing.T) {
	tracer := useTracing(t)
	_, b := stack(t)
	ctx := testCtx(t, 20*time.Second)
	got := make(chan trace.SpanContext, 1)
	parts, err := b.ConsumePartitions(ctx, bus.PartitionOptions{Stream: bus.StreamInbound(), Durable: "trace", Partitions: 2, AckWait: 10 * time.Second, Log: discard},
		func(hctx context.Context, env *syv1.Envelope) error {
			got <- trace.SpanContextFromContext(hctx)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(parts.Stop)
	pctx, span := tracer.Start(ctx, "publish")
	if _, err := b.Publish(pctx, bus.InboundSubject(2, "s1"), &syv1.Envelope{Id: "x", Type: "ping", SessionId: "s1"}); err != nil {
		t.Fatal(err)
	}
	span.End()
	select {
	case sc := <-got:
		if sc.TraceID() != span.SpanContext().TraceID() {
			t.Errorf("handler trace %v, want %v", sc.TraceID(), span.SpanContext().TraceID())
		}
	case <-ctx.Done():
		t.Fatal("message not consumed")
	}
}

type delivery struct {
	replica string
	session string
	index   int64
}

// Two replicas consume the same partitioned stream through the same
// durable consumers: every message is handled exactly once, each session's
// messages in publish order, and never two of a partition at once.
func TestConsumePartitionsOrderAcrossReplicas(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 60*time.Second)
	const (
		partitions = 4
		sessions   = 5
		total      = 200
	)
	var (
		mu       sync.Mutex
		got      []delivery
		inflight [partitions]atomic.Int32
		overlap  atomic.Int32
		done     = make(chan struct{})
	)
	handler := func(replica string) bus.Handler {
		return func(_ context.Context, env *syv1.Envelope) error {
			p := bus.Partition(env.GetSessionId(), partitions)
			if inflight[p].Add(1) > 1 {
				overlap.Add(1)
			}
			defer inflight[p].Add(-1)
			mu.Lock()
			got = append(got, delivery{replica, env.GetSessionId(), env.GetSeq()})
			if len(got) == total {
				close(done)
			}
			mu.Unlock()
			return nil
		}
	}
	var replicas []*bus.Partitions
	for _, name := range []string{"replica-a", "replica-b"} {
		b := connect(t, url, name)
		p, err := b.ConsumePartitions(ctx, bus.PartitionOptions{Stream: bus.StreamInbound(), Durable: "session", Partitions: partitions, AckWait: 30 * time.Second, Log: discard}, handler(name))
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, p)
		t.Cleanup(p.Stop)
	}
	next := map[string]int64{}
	for i := 0; i < total; i++ {
		sid := "sess-" + strconv.Itoa((i*i+i/7)%sessions) // uneven interleaving
		env := &syv1.Envelope{Id: "m" + strconv.Itoa(i), Type: "agent.output", SessionId: sid, Seq: next[sid]}
		next[sid]++
		if _, err := pub.Publish(ctx, bus.InboundSubject(partitions, sid), env); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		t.Fatalf("only %d of %d messages handled", len(got), total)
	}
	// All acked: the work-queue stream empties (no event to wait on).
	st, _ := pub.JS.Stream(ctx, bus.StreamInbound())
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d messages never acked", info.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range replicas {
		p.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != total {
		t.Fatalf("%d deliveries, want exactly %d", len(got), total)
	}
	seen := map[string]int64{}
	byReplica := map[string]int{}
	for _, d := range got {
		if d.index != seen[d.session] {
			t.Fatalf("session %s: got message %d, want %d (order broken or duplicate)", d.session, d.index, seen[d.session])
		}
		seen[d.session]++
		byReplica[d.replica]++
	}
	for sid, n := range next {
		if seen[sid] != n {
			t.Errorf("session %s: %d of %d messages", sid, seen[sid], n)
		}
	}
	if overlap.Load() != 0 {
		t.Errorf("%d times two messages of one partition were in flight at once", overlap.Load())
	}
	t.Logf("sessions %d, deliveries by replica %v", len(next), byReplica)
}

// recorder collects handler calls in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
	ch    chan string
}

func newRecorder() *recorder { return &recorder{ch: make(chan string, 100)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
	r.ch <- s
}

func (r *recorder) expect(t *testing.T, ctx context.Context, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got := <-r.ch:
			if got != w {
				r.mu.Lock()
				t.Fatalf("call %d = %s, want %s (calls %v)", i, got, w, r.calls)
			}
		case <-ctx.Done():
			r.mu.Lock()
			t.Fatalf("waiting for %s: calls so far %v", w, r.calls)
		}
	}
}

func consumeOne(t *testing.T, ctx context.Context, b *bus.Bus, h bus.Handler) *bus.Partitions {
	t.Helper()
	p, err := b.ConsumePartitions(ctx, bus.PartitionOptions{Stream: bus.StreamRuntime(), Durable: "relay", Partitions: 1, AckWait: 30 * time.Second, Log: discard}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// A failing handler gets the same message again (after a short delay, not
// after AckWait) before any later message of the partition.
func TestHandlerErrorRedelivers(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 20*time.Second)
	rec := newRecorder()
	var failures atomic.Int32
	consumeOne(t, ctx, b, func(_ context.Context, env *syv1.Envelope) error {
		rec.add(env.GetId())
		if env.GetId() == "m1" && failures.Add(1) <= 2 {
			return fmt.Errorf("runtime busy")
		}
		return nil
	})
	start := time.Now()
	for _, id := range []string{"m1", "m2"} {
		if _, err := b.Publish(ctx, bus.RuntimeSubject(1, "s1"), &syv1.Envelope{Id: id, Type: "user.message", SessionId: "s1"}); err != nil {
			t.Fatal(err)
		}
	}
	rec.expect(t, ctx, "m1", "m1", "m1", "m2")
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("redelivery took %v: it waited for AckWait instead of the nak delay", el)
	}
}

// ErrPoison (also wrapped) terminates a message: it is not redelivered and
// the partition moves on. So does an envelope that does not decode.
func TestPoisonNotRedelivered(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 20*time.Second)
	rec := newRecorder()
	consumeOne(t, ctx, b, func(_ context.Context, env *syv1.Envelope) error {
		rec.add(env.GetId())
		if env.GetId() == "poison" {
			return fmt.Errorf("cannot route: %w", bus.ErrPoison)
		}
		return nil
	})
	subj := bus.RuntimeSubject(1, "s1")
	if _, err := b.Publish(ctx, subj, &syv1.Envelope{Id: "poison", Type: "x", SessionId: "s1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, subj, []byte{0xff, 0xff, 0xff, 0xff}); err != nil { // not an Envelope
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, subj, &syv1.Envelope{Id: "good", Type: "x", SessionId: "s1"}); err != nil {
		t.Fatal(err)
	}
	// With one message in flight per partition, "good" can only come once
	// the poison and the garbage are finished for good.
	rec.expect(t, ctx, "poison", "good")
	st, _ := b.JS.Stream(ctx, bus.StreamRuntime())
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d messages left in the work queue", info.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond) // no event for "stream emptied"
	}
	if ci := consumerInfo(t, ctx, b); ci.NumRedelivered != 0 || ci.NumAckPending != 0 {
		t.Errorf("consumer redelivered %d, ack pending %d", ci.NumRedelivered, ci.NumAckPending)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 2 {
		t.Errorf("calls %v", rec.calls)
	}
}

// Stop waits for the handler that is running.
func TestPartitionsStopWaitsForHandler(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 20*time.Second)
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	p := consumeOne(t, ctx, b, func(context.Context, *syv1.Envelope) error {
		close(entered)
		<-release
		finished.Store(true)
		return nil
	})
	if _, err := b.Publish(ctx, bus.RuntimeSubject(1, "s"), &syv1.Envelope{Id: "1", Type: "x", SessionId: "s"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("handler not called")
	}
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the handler was running")
	case <-time.After(100 * time.Millisecond): // Stop must still be blocked
	}
	close(release)
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("Stop did not return after the handler finished")
	}
	if !finished.Load() {
		t.Error("Stop returned before the handler finished")
	}
}

func TestConsumePartitionsUnknownStream(t *testing.T) {
	n := testenv.NATS(t)
	b := connect(t, n.URL(), "t")
	if _, err := b.ConsumePartitions(testCtx(t, 5*time.Second), bus.PartitionOptions{Stream: bus.StreamInbound(), Durable: "x", Partitions: 1, AckWait: time.Second, Log: discard},
		func(context.Context, *syv1.Envelope) error { return nil }); err == nil {
		t.Error("ConsumePartitions without EnsureStreams succeeded")
	}
}

func TestRequestReply(t *testing.T) {
	_, b := stack(t)
	ctx := testCtx(t, 10*time.Second)
	sub, err := b.NC.Subscribe(bus.SubjSessionCreate(), func(m *nats.Msg) {
		_, req, err := bus.Decode(ctx, m.Data, m.Header)
		if err != nil {
			return
		}
		_ = b.Reply(ctx, m, &syv1.Envelope{Type: "reply", SessionId: req.GetSessionId() + "-ok"})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	resp, err := b.Request(ctx, bus.SubjSessionCreate(), &syv1.Envelope{Type: bus.TypeCreateSession, SessionId: "s9"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetType() != "reply" || resp.GetSessionId() != "s9-ok" {
		t.Errorf("reply %v", resp)
	}
	if err := b.Reply(ctx, &nats.Msg{Subject: "x"}, &syv1.Envelope{}); err == nil {
		t.Error("Reply to a message without reply subject succeeded")
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := b.Request(short, "sy.svc.nobody", &syv1.Envelope{Type: "x"}); err == nil {
		t.Error("request without responder succeeded")
	}
	// Send is at most once on core NATS: it reaches a live subscriber.
	got := make(chan *nats.Msg, 1)
	s2, _ := b.NC.ChanSubscribe(bus.PodSubject("gw-1"), got)
	defer func() { _ = s2.Unsubscribe() }()
	if err := b.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, bus.PodSubject("gw-1"), &syv1.Envelope{Type: "error", SessionId: "s"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Header.Get(bus.HeaderType) != "error" || m.Header.Get(jetstream.MsgIDHeader) != "" {
			t.Errorf("headers %v", m.Header)
		}
	case <-ctx.Done():
		t.Fatal("Send not delivered")
	}
}

// A service that does not own the stream limits (a gateway, the relay)
// never resets them: the transcript cap the session service configured
// survives a gateway's EnsureStreams, and a non-default cap does not make
// start-up fail.
func TestEnsureStreamsKeepsTheOwnersLimits(t *testing.T) {
	_, b := stack(t)
	ctx := context.Background()
	if err := b.EnsureStreams(ctx, bus.Limits{TranscriptMaxMsgsPerSession: 7, Owner: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureStreams(ctx, bus.Limits{}); err != nil {
		t.Fatalf("a non-owner after the owner: %v", err)
	}
	st, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.MaxMsgsPerSubject; got != 7 {
		t.Fatalf("MaxMsgsPerSubject = %d after a gateway's EnsureStreams, want the owner's 7", got)
	}
}
