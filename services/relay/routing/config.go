package routing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// adminState is what the endpoint-config and token requests need.
type adminState struct {
	kv       jetstream.KeyValue // sy_tokens
	subs     []*nats.Subscription
	inflight sync.WaitGroup // config requests waiting on runtimes
}

// startAdmin serves endpoint config updates (bus.SubjRelayConfig), token
// refreshes (bus.SubjRelayRefresh) and admin token requests
// (bus.SubjRelayTokens), all in queue group relay.
func (s *Service) startAdmin(ctx context.Context) error {
	if s.cfg.RuntimeTokenTTL <= 0 || s.cfg.RuntimeTokenGrace < 0 {
		return fmt.Errorf("routing: runtime-token-ttl (%s) must be positive and runtime-token-grace (%s) not negative",
			s.cfg.RuntimeTokenTTL, s.cfg.RuntimeTokenGrace)
	}
	kv, err := s.bus.KV(ctx, bus.BucketTokens)
	if err != nil {
		return err
	}
	s.admin.kv = kv
	handlers := map[string]nats.MsgHandler{
		// A config update waits for the runtime (up to the request timeout):
		// one goroutine per request, so one slow runtime holds no other.
		bus.SubjRelayConfig: func(m *nats.Msg) {
			s.admin.inflight.Add(1)
			go func() {
				defer s.admin.inflight.Done()
				s.handleConfig(ctx, m)
			}()
		},
		bus.SubjRelayRefresh: func(m *nats.Msg) { s.handleRefresh(ctx, m) },
		bus.SubjRelayTokens:  func(m *nats.Msg) { s.handleTokens(ctx, m) },
	}
	for subj, h := range handlers {
		sub, err := s.bus.NC.QueueSubscribe(subj, bus.QueueRelay, h)
		if err != nil {
			s.stopAdmin()
			return fmt.Errorf("routing: subscribe %s: %w", subj, err)
		}
		s.admin.subs = append(s.admin.subs, sub)
	}
	return nil
}

// stopAdmin stops taking requests and waits for those in flight.
func (s *Service) stopAdmin() {
	for _, sub := range s.admin.subs {
		_ = sub.Drain()
	}
	s.admin.inflight.Wait()
}

// handleConfig applies one endpoint config override: store it on the
// endpoint record, send endpoint.config_update to the runtime's socket and
// wait for its endpoint.config_ack. The reply is an EndpointConfigAck
// (ok) or an Error whose code the gateway turns into the HTTP status.
func (s *Service) handleConfig(ctx context.Context, m *nats.Msg) {
	start := time.Now()
	ctx, env, err := bus.Decode(ctx, m.Data, m.Header)
	if err != nil {
		s.log.Warn("bad config request", "err", err)
		return
	}
	upd := env.GetEndpointConfigUpdate()
	ctx, span := s.tracer.Start(ctx, "relay.config_update", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.endpoint_id", upd.GetEndpointId())))
	defer span.End()
	ctx, cancel := context.WithDeadline(ctx, start.Add(s.cfg.RequestTimeout))
	defer cancel()
	reply := s.config1(ctx, upd)
	if e := reply.GetError(); e != nil {
		span.SetAttributes(attribute.String("sy.error_code", e.GetCode()))
	}
	if err := s.bus.Reply(context.WithoutCancel(ctx), m, reply); err != nil {
		s.log.WarnContext(ctx, "config reply not sent", "err", err)
	}
}

func (s *Service) config1(ctx context.Context, upd *syv1.EndpointConfigUpdate) *syv1.Envelope {
	id := upd.GetEndpointId()
	if !bus.ValidToken(id) {
		return errorEnvelope(errcode.InvalidMessage, "endpoint ids are 1-128 characters of [A-Za-z0-9_-]")
	}
	if upd.GetSecurity() == nil && upd.GetLimits() == nil {
		return errorEnvelope(errcode.InvalidMessage, "a config update needs security or limits")
	}
	rec, err := s.cat.Endpoint(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorEnvelope(errcode.EndpointUnknown, "no endpoint "+id)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "endpoint record not read", "endpoint", id, "err", err)
		return errorEnvelope(errcode.Unavailable, "endpoint registry unavailable, retry")
	}
	override := &syv1.EndpointConfigUpdate{EndpointId: id, Security: upd.GetSecurity(), Limits: upd.GetLimits()}
	rec.Override = override
	if err := s.cat.PutEndpoint(ctx, rec); err != nil {
		s.log.ErrorContext(ctx, "endpoint override not stored", "endpoint", id, "err", err)
		return errorEnvelope(errcode.Unavailable, "endpoint registry unavailable, retry")
	}
	rid := rec.GetRuntimeId()
	stored := "; the override is stored and will be sent when runtime " + rid + " reconnects"
	pod, conn, ok, err := s.owners.Runtime(ctx, rid)
	if err != nil {
		s.log.WarnContext(ctx, "runtime socket not looked up", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "ownership store unreachable"+stored)
	}
	if !ok {
		return errorEnvelope(errcode.RuntimeOffline, "runtime "+rid+" of endpoint "+id+" is offline"+stored)
	}
	// Listen for the ack before the update can reach the runtime (the
	// subscription and the request share one connection, so NATS sees the
	// subscription first).
	acks, err := s.bus.NC.SubscribeSync(bus.ConfigAckSubject(id))
	if err != nil {
		return errorEnvelope(errcode.Unavailable, "bus unavailable, retry")
	}
	defer func() { _ = acks.Unsubscribe() }()
	out := &syv1.Envelope{
		Id: nuid.Next(), Type: amurg.TypeEndpointConfigUpdate, RuntimeId: rid, EndpointId: id, Ts: amurg.Timestamp(time.Now()),
		Target: &syv1.Route{Pod: pod, ConnId: conn, Dialect: amurg.RoleRuntime.String()},
		Body:   &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: override},
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DeliveryWait)
	delivered, err := s.bus.Request(dctx, bus.PodSubject(pod), out)
	cancel()
	if err != nil || delivered.GetError() != nil {
		return errorEnvelope(errcode.RuntimeOffline, "runtime "+rid+" is unreachable: its gateway did not confirm delivery"+stored)
	}
	for {
		msg, err := acks.NextMsgWithContext(ctx)
		if err != nil {
			return errorEnvelope(errcode.RuntimeTimeout, fmt.Sprintf("runtime %s did not acknowledge the config update within %s (the override is stored)", rid, s.cfg.RequestTimeout))
		}
		_, ackEnv, err := bus.Decode(ctx, msg.Data, msg.Header)
		ack := ackEnv.GetEndpointConfigAck()
		if err != nil || ack.GetEndpointId() != id {
			continue
		}
		if !ack.GetOk() {
			e := ack.GetError()
			if e == "" {
				e = "the runtime refused the config update"
			}
			return errorEnvelope(errcode.RuntimeError, e)
		}
		s.log.InfoContext(ctx, "endpoint config applied", "endpoint", id, "runtime_id", rid)
		return &syv1.Envelope{Type: amurg.TypeEndpointConfigAck, EndpointId: id, RuntimeId: rid,
			Body: &syv1.Envelope_EndpointConfigAck{EndpointConfigAck: &syv1.EndpointConfigAck{EndpointId: id, Ok: true}}}
	}
}
