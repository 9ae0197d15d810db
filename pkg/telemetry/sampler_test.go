package telemetry

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestOutputRatio: SetOutputRatio(0) drops the traces of output chunks
// (root spans named "… agent.output") and nothing else; a child span of a
// kept trace is kept whatever its name; ratio 1 keeps everything.
func TestOutputRatio(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := Setup(context.Background(), Options{Service: "t", Pod: "p", Exporter: exp, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	start := func(ctx context.Context, name string) context.Context {
		ctx, span := tel.Tracer.Start(ctx, name)
		span.End()
		return ctx
	}
	tel.SetOutputRatio(0)
	start(context.Background(), "gateway.ingest agent.output")
	parent := start(context.Background(), "gateway.ingest user.message")
	start(parent, "session.handle agent.output")
	var got []string
	for _, s := range exp.GetSpans() {
		got = append(got, s.Name)
	}
	if strings.Join(got, ",") != "gateway.ingest user.message,session.handle agent.output" {
		t.Fatalf("ratio 0 exported %v; want the control frame and the child only", got)
	}
	exp.Reset()
	tel.SetOutputRatio(1)
	start(context.Background(), "gateway.ingest agent.output")
	if n := len(exp.GetSpans()); n != 1 {
		t.Fatalf("ratio 1 exported %d output spans, want 1", n)
	}
}

// TestSamplerFromEnv: the standard OTEL_TRACES_SAMPLER values are
// honoured and a bad one is an error naming the variable.
func TestSamplerFromEnv(t *testing.T) {
	for _, tc := range []struct {
		sampler, arg, want string
	}{
		{"", "", "ParentBased{root:AlwaysOnSampler"},
		{"always_off", "", "AlwaysOffSampler"},
		{"traceidratio", "0.25", "TraceIDRatioBased{0.25}"},
		{"parentbased_traceidratio", "0.5", "ParentBased{root:TraceIDRatioBased{0.5}"},
	} {
		env := map[string]string{"OTEL_TRACES_SAMPLER": tc.sampler, "OTEL_TRACES_SAMPLER_ARG": tc.arg}
		s, err := SamplerFromEnv(func(k string) string { return env[k] })
		if err != nil || !strings.HasPrefix(s.Description(), tc.want) {
			t.Errorf("%q/%q: %v, %v; want %s", tc.sampler, tc.arg, s, err, tc.want)
		}
	}
	for _, env := range []map[string]string{{"OTEL_TRACES_SAMPLER": "sometimes"}, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}} {
		if _, err := SamplerFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") {
			t.Errorf("%v: %v, want an error naming the variable", env, err)
		}
	}
}

// TestStandardOTLPEndpoint: OTEL_EXPORTER_OTLP_ENDPOINT alone turns
// tracing on (no SY_OTLP_ENDPOINT needed).
func TestStandardOTLPEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tel, err := Setup(context.Background(), Options{Service: "t", Pod: "p", LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer.Start(context.Background(), "x")
	if !span.IsRecording() {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT set, but spans are not recorded")
	}
	span.End()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait for the unreachable collector
	_ = tel.Shutdown(ctx)
}
