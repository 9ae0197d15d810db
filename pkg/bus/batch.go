package bus

import (
	"context"
	"iter"

	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Batch wraps envelopes bound for one SY_IN partition, in order, into one
// InBatch envelope, so that they are stored, delivered and acknowledged
// as one message. ctxs[i] is the trace context envs[i] travels with.
// Each envelope keeps its own id: what the session service derives from
// it (transcript dedupe) is unchanged.
func Batch(ctxs []context.Context, envs []*syv1.Envelope) *syv1.Envelope {
	b := &syv1.InboundBatch{Envelopes: envs, Traces: make([]*syv1.TraceCarrier, len(envs))}
	for i, ctx := range ctxs {
		carrier := propagation.MapCarrier{}
		otel.GetTextMapPropagator().Inject(ctx, carrier)
		b.Traces[i] = &syv1.TraceCarrier{Fields: carrier}
	}
	return &syv1.Envelope{Id: nuid.Next(), Type: kind.InBatch, SessionId: envs[0].GetSessionId(), Body: &syv1.Envelope_InboundBatch{InboundBatch: b}}
}

// Unbatch yields the envelopes of an InBatch envelope, each with the trace
// context it was sent with (under ctx's values), or env itself with ctx
// when it is not a batch.
func Unbatch(ctx context.Context, env *syv1.Envelope) iter.Seq2[context.Context, *syv1.Envelope] {
	return func(yield func(context.Context, *syv1.Envelope) bool) {
		if env.GetType() != kind.InBatch {
			yield(ctx, env)
			return
		}
		b := env.GetInboundBatch()
		for i, e := range b.GetEnvelopes() {
			ectx := ctx
			if i < len(b.GetTraces()) {
				ectx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(b.GetTraces()[i].GetFields()))
			}
			if !yield(ectx, e) {
				return
			}
		}
	}
}
