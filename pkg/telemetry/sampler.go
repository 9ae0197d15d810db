package telemetry

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// OutputSpanSuffix ends the names of the root spans of output chunks
// ("gateway.ingest agent.output"): the high-volume frames a hub sees, whose
// traces may be sampled at a lower rate than control frames (SetOutputRatio).
const OutputSpanSuffix = " agent.output"

// SamplerFromEnv builds the sampler the standard OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG variables name (the OpenTelemetry SDK
// specification's values: always_on, always_off, traceidratio,
// parentbased_always_on, parentbased_always_off, parentbased_traceidratio).
// Unset is parentbased_always_on, the SDK's default. A bad value is an
// error naming the variable, not a silent default.
func SamplerFromEnv(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	ratio := 1.0
	if arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG")); arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG = %q: want a ratio 0..1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER = %q: want always_on, always_off, traceidratio, "+
		"parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

// frameSampler is the base (environment) sampler, and for the root span of
// an output chunk additionally the output ratio: an output trace is kept
// when both keep it, so output is sampled at most at the control rate.
type frameSampler struct {
	base   sdktrace.Sampler
	output atomic.Pointer[sdktrace.Sampler] // nil: ratio 1
}

func newFrameSampler(base sdktrace.Sampler) *frameSampler { return &frameSampler{base: base} }

func (s *frameSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := s.base.ShouldSample(p)
	if r.Decision != sdktrace.RecordAndSample || !strings.HasSuffix(p.Name, OutputSpanSuffix) ||
		trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return r
	}
	if o := s.output.Load(); o != nil {
		if or := (*o).ShouldSample(p); or.Decision != sdktrace.RecordAndSample {
			return or
		}
	}
	return r
}

func (s *frameSampler) Description() string { return "SwitchyardFrames{" + s.base.Description() + "}" }

// SetOutputRatio sets the share (0..1) of output-chunk traces kept, on top
// of the base sampler (SY_TRACE_OUTPUT_RATIO on the gateway). No effect
// when tracing is off.
func (t *Telemetry) SetOutputRatio(ratio float64) {
	if t.sampler == nil {
		return
	}
	if ratio >= 1 {
		t.sampler.output.Store(nil)
		return
	}
	o := sdktrace.TraceIDRatioBased(ratio)
	t.sampler.output.Store(&o)
}
