package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// adminState is what the token requests need.
type adminState struct {
	kv jetstream.KeyValue // sy_tokens
}

// startAdmin opens the token bucket; requests.go serves endpoint config
// updates (bus.SubjRelayConfig()), token refreshes (bus.SubjRelayRefresh())
// and admin token requests (bus.SubjRelayTokens()).
func (s *Service) startAdmin(ctx context.Context) error {
	if s.cfg.RuntimeTokenTTL <= 0 || s.cfg.RuntimeTokenGrace < 0 {
		return fmt.Errorf("routing: runtime-token-ttl (%s) must be positive and runtime-token-grace (%s) not negative",
			s.cfg.RuntimeTokenTTL, s.cfg.RuntimeTokenGrace)
	}
	kv, err := s.bus.KV(ctx, bus.BucketTokens())
	if err != nil {
		return err
	}
	s.admin.kv = kv
	return nil
}

// configRequest applies one endpoint config override: store it on the
// endpoint record, send endpoint.config_update to the runtime's socket and
// wait for its endpoint.config_ack. The reply is an EndpointConfigAck
// (ok) or an Error whose code the gateway turns into the HTTP status.
func (s *Service) configRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	return s.config1(ctx, env.GetEndpointConfigUpdate())
}

func (s *Service) config1(ctx context.Context, upd *syv1.EndpointConfigUpdate) *syv1.Envelope {
	id := upd.GetEndpointId()
	if !bus.ValidToken(id) {
		return errorEnvelope(errcode.InvalidMessage, "endpoint ids are 1-128 characters of [A-Za-z0-9_-]")
	}
	if upd.GetSecurity() == nil && upd.GetLimits() == nil {
		return errorEnvelope(errcode.InvalidMessage, "a config update needs security or limits")
	}
	override := &syv1.EndpointConfigUpdate{EndpointId: id, Security: upd.GetSecurity(), Limits: upd.GetLimits()}
	// Compare-and-set, so a concurrent hello's claim is never undone. It is
	// pending until the runtime accepts it (overrides.go).
	rec, err := s.reg.update(ctx, id, func(rec *syv1.EndpointRecord) { rec.PendingOverride = override })
	if errors.Is(err, catalog.ErrNotFound) {
		return errorEnvelope(errcode.EndpointUnknown, "no endpoint "+id)
	}
	if err != nil {
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
		Id: nuid.Next(), Type: kind.EndpointConfigUpdate, RuntimeId: rid, EndpointId: id, Ts: clock.Stamp(time.Now()),
		Target: &syv1.Route{Pod: pod, ConnId: conn, Dialect: kind.RoleRuntime.String(), Role: kind.RoleRuntime.String()},
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
			s.applyConfigAck(ctx, id, override, ack)
			return errorEnvelope(errcode.RuntimeError, e+refusedNote)
		}
		s.applyConfigAck(ctx, id, override, ack)
		s.log.InfoContext(ctx, "endpoint config applied", "endpoint", id, "runtime_id", rid)
		return &syv1.Envelope{Type: kind.EndpointConfigAck, EndpointId: id, RuntimeId: rid,
			Body: &syv1.Envelope_EndpointConfigAck{EndpointConfigAck: &syv1.EndpointConfigAck{EndpointId: id, Ok: true}}}
	}
}
