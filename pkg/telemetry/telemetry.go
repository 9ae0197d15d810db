// Package telemetry sets up what every Switchyard service reports: an
// OpenTelemetry tracer provider exporting OTLP/HTTP, slog loggers that
// stamp trace and span ids, and a Prometheus registry.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
)

// Options configures Setup.
type Options struct {
	Service string // service.name: "switchyard-gateway", ...
	Pod     string
	// OTLPEndpoint is an OTLP/HTTP base URL (http://host:4318). With it,
	// Exporter and the standard OTEL_EXPORTER_OTLP_ENDPOINT /
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT all empty, tracing is off: the
	// tracer is a no-op one, so no span is recorded and no traceparent is
	// started per frame (an incoming traceparent is still passed on).
	// OTLPEndpoint wins over the OTEL_* variables, which otherwise configure
	// the exporter as the OpenTelemetry SDK documents (headers, timeout, …).
	OTLPEndpoint string
	// Exporter, when set, receives spans as well (tests use an in-memory one).
	Exporter  sdktrace.SpanExporter
	LogLevel  string
	LogFormat string
	LogOutput io.Writer
	// Registry to register metrics in; a new one when nil.
	Registry *prometheus.Registry
}

// Telemetry is what a service holds to trace, log and count.
type Telemetry struct {
	Tracer   trace.Tracer
	Log      *slog.Logger
	Registry *prometheus.Registry
	tp       *sdktrace.TracerProvider // nil: tracing off (no-op tracer)
	sampler  *frameSampler            // nil: tracing off
}

// Setup builds a service's telemetry. It also installs the W3C trace
// context propagator globally, which is what the bus uses in NATS headers.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(o.Service), semconv.ServiceInstanceID(o.Pod), semconv.ServiceVersion(buildinfo.Get().Version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	reg := o.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	out := o.LogOutput
	if out == nil {
		out = os.Stderr
	}
	log := NewLogger(out, o.LogLevel, o.LogFormat).With("service", o.Service, "pod", o.Pod)
	fromEnv := o.OTLPEndpoint == "" && (os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "")
	if o.OTLPEndpoint == "" && o.Exporter == nil && !fromEnv {
		return &Telemetry{Tracer: noop.NewTracerProvider().Tracer("switchyard/" + o.Service), Log: log, Registry: reg}, nil
	}
	base, err := SamplerFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	sampler := newFrameSampler(base)
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if o.OTLPEndpoint != "" || fromEnv {
		exp, err := otlptracehttp.New(ctx, endpointOption(o.OTLPEndpoint)...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp exporter %s: %w", o.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	if o.Exporter != nil {
		tpOpts = append(tpOpts, sdktrace.WithSyncer(o.Exporter))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	return &Telemetry{Tracer: tp.Tracer("switchyard/" + o.Service), Log: log, Registry: reg, tp: tp, sampler: sampler}, nil
}

// TracerProvider is the SDK provider (nil when tracing is off), for
// instrumentation libraries such as otelhttp.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.tp == nil {
		return noop.NewTracerProvider()
	}
	return t.tp
}

// endpointOption: "" leaves the exporter to the OTEL_EXPORTER_OTLP_*
// variables.
func endpointOption(endpoint string) []otlptracehttp.Option {
	if endpoint == "" {
		return nil
	}
	if strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://") {
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/") + "/v1/traces")}
	}
	return []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure()}
}

// Shutdown flushes spans.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// NewRegistry is a Prometheus registry with the Go and process collectors
// and switchyard_build_info.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildinfo.Collector())
	return reg
}

// MetricsHandler serves the registry in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{Registry: t.Registry})
}

// NewLogger builds a slog logger whose records carry trace_id and span_id
// when logged with a context that holds a span.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	hopts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, hopts)
	} else {
		h = slog.NewTextHandler(w, hopts)
	}
	return slog.New(traceHandler{h})
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(a)}
}
func (h traceHandler) WithGroup(n string) slog.Handler { return traceHandler{h.Handler.WithGroup(n)} }
