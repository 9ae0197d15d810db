package bus_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// A batch survives the wire and yields its envelopes in order, each under
// the trace context it was batched with; a plain envelope yields itself.
func TestBatchRoundTrip(t *testing.T) {
	tracer := useTracing(t)
	var ctxs []context.Context
	var envs []*syv1.Envelope
	for i, id := range []string{"a", "b", "c"} {
		ctx, span := tracer.Start(context.Background(), "gateway.ingest "+id)
		defer span.End()
		ctxs = append(ctxs, ctx)
		envs = append(envs, &syv1.Envelope{Id: id, Type: kind.AgentOutput, SessionId: "s" + id, Seq: int64(i)})
	}
	b := bus.Batch(ctxs, envs)
	if b.GetType() != kind.InBatch || b.GetSessionId() != "sa" || b.GetId() == "" {
		t.Fatalf("batch envelope %v", b)
	}
	m, err := bus.NewMsg(ctxs[0], "sy.in.0.sa", b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, got, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for ectx, e := range bus.Unbatch(ctx, got) {
		if !proto.Equal(e, envs[i]) {
			t.Errorf("envelope %d: %v, want %v", i, e, envs[i])
		}
		sc, want := trace.SpanContextFromContext(ectx), trace.SpanContextFromContext(ctxs[i])
		if sc.SpanID() != want.SpanID() || sc.TraceID() != want.TraceID() {
			t.Errorf("envelope %d: span context %v, want %v", i, sc, want)
		}
		i++
	}
	if i != len(envs) {
		t.Fatalf("%d envelopes out of %d", i, len(envs))
	}
	plain := envs[1]
	n := 0
	for ectx, e := range bus.Unbatch(ctxs[1], plain) {
		if e != plain || ectx != ctxs[1] {
			t.Errorf("a plain envelope came out as %v", e)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("a plain envelope yielded %d", n)
	}
}
