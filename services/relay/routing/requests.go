package routing

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// request is one kind of request/reply exchange the relay serves on a core
// subject (queue group relay): decode → span → call → reply, written once
// in serve.
type request struct {
	subject string
	// span names the server span; empty: "relay." + the envelope type.
	span string
	// attrs are the span's attributes, read from the request.
	attrs func(*syv1.Envelope) []attribute.KeyValue
	// bounded requests get SY_REQUEST_TIMEOUT from their arrival.
	bounded bool
	// async requests run on a goroutine of their own (they wait on a
	// runtime), so one slow runtime holds no other request.
	async bool
	call  func(context.Context, *syv1.Envelope) *syv1.Envelope
}

// requests is every request the relay serves.
func (s *Service) requests() []request {
	runtimeAttr := func(env *syv1.Envelope) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("sy.runtime_id", env.GetRuntimeId())}
	}
	endpointAttr := func(env *syv1.Envelope) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("sy.endpoint_id", env.GetEndpointId())}
	}
	return []request{
		{subject: bus.SubjRelayHello(), span: "relay.hello", call: s.helloRequest},
		{subject: bus.SubjRelayConfig(), span: "relay.config_update", bounded: true, async: true, call: s.configRequest,
			attrs: func(env *syv1.Envelope) []attribute.KeyValue {
				return []attribute.KeyValue{attribute.String("sy.endpoint_id", env.GetEndpointConfigUpdate().GetEndpointId())}
			}},
		{subject: bus.SubjRelayRefresh(), span: "relay.token_refresh", attrs: runtimeAttr, call: s.refreshRequest},
		{subject: bus.SubjRelayTokens(), attrs: runtimeAttr, call: s.tokensRequest},
		{subject: bus.SubjRelayRelease(), span: "relay.endpoint_release", attrs: endpointAttr, call: s.releaseRequest},
		{subject: bus.SubjRelayConfigResult(), span: "relay.config_result", attrs: endpointAttr, call: s.configResultRequest},
	}
}

// startRequests subscribes every request in queue group relay.
func (s *Service) startRequests(ctx context.Context) error {
	for _, r := range s.requests() {
		h := func(m *nats.Msg) { s.serve(ctx, m, r) }
		if r.async {
			h = func(m *nats.Msg) {
				s.inflight.Add(1)
				go func() {
					defer s.inflight.Done()
					s.serve(ctx, m, r)
				}()
			}
		}
		sub, err := s.bus.NC.QueueSubscribe(r.subject, bus.QueueRelay, h)
		if err != nil {
			s.stopRequests()
			return fmt.Errorf("routing: subscribe %s: %w", r.subject, err)
		}
		s.subs = append(s.subs, sub)
	}
	// The server has the subscriptions before the relay reports ready: a
	// gateway's first runtime.hello must not find no responders.
	if err := s.bus.NC.Flush(); err != nil {
		s.stopRequests()
		return fmt.Errorf("routing: flush subscriptions: %w", err)
	}
	return nil
}

// stopRequests stops taking requests and waits for those in flight.
func (s *Service) stopRequests() {
	for _, sub := range s.subs {
		_ = sub.Drain()
	}
	s.inflight.Wait()
}

// serve answers one request: decode, span, call, reply. A request that
// does not decode gets no answer (its sender times out), as before.
func (s *Service) serve(ctx context.Context, m *nats.Msg, r request) {
	start := s.clock.Now()
	ctx, env, err := bus.Decode(ctx, m.Data, m.Header)
	if err != nil {
		s.log.Warn("bad request", "subject", m.Subject, "err", err)
		return
	}
	name := r.span
	if name == "" {
		name = "relay." + env.GetType()
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	if r.attrs != nil {
		opts = append(opts, trace.WithAttributes(r.attrs(env)...))
	}
	ctx, span := s.tracer.Start(ctx, name, opts...)
	defer span.End()
	if r.bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(s.cfg.RequestTimeout))
		defer cancel()
	}
	reply := r.call(ctx, env)
	if code := replyCode(reply); code != "" {
		span.SetAttributes(attribute.String("sy.error_code", code))
	}
	if err := s.bus.Reply(context.WithoutCancel(ctx), m, reply); err != nil {
		s.log.WarnContext(ctx, "reply not sent", "subject", m.Subject, "err", err)
	}
}

// replyCode is the error code a reply carries ("" when it is a success).
func replyCode(env *syv1.Envelope) string {
	if e := env.GetError(); e != nil {
		return e.GetCode()
	}
	if ack := env.GetHelloAck(); ack != nil && !ack.GetOk() {
		return ack.GetCode()
	}
	return ""
}
