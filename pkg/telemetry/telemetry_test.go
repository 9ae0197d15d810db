package telemetry

import (
	"context"
	"io"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestNoEndpointMeansNoSpans: without an OTLP endpoint or exporter the
// tracer records nothing and no traceparent is injected, so frames pay
// for no span; with an exporter, spans are recorded and propagated.
func TestNoEndpointMeansNoSpans(t *testing.T) {
	ctx := context.Background()
	off, err := Setup(ctx, Options{Service: "t", Pod: "p", LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sctx, span := off.Tracer.Start(ctx, "frame")
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(sctx, carrier)
	span.End()
	if span.IsRecording() || carrier.Get("traceparent") != "" {
		t.Errorf("tracing off: recording %v, traceparent %q; want neither", span.IsRecording(), carrier.Get("traceparent"))
	}
	if err := off.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown without a provider: %v", err)
	}

	exp := tracetest.NewInMemoryExporter()
	on, err := Setup(ctx, Options{Service: "t", Pod: "p", Exporter: exp, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sctx, span = on.Tracer.Start(ctx, "frame")
	carrier = propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(sctx, carrier)
	span.End()
	if carrier.Get("traceparent") == "" || len(exp.GetSpans()) != 1 {
		t.Errorf("tracing on: traceparent %q, %d spans exported; want one of each", carrier.Get("traceparent"), len(exp.GetSpans()))
	}
	_ = on.Shutdown(ctx)
}
