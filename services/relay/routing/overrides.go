package routing

// Endpoint config overrides and what the runtime made of them. An
// EndpointRecord keeps
//
//   - override: the last override the runtime accepted (or none);
//   - pending_override: one an admin set while the runtime could not
//     answer (offline, unreachable, no ack in time);
//   - refused_override, refused_error, refused_at: the last one the runtime
//     refused.
//
// After a hello the relay sends the pending override if there is one, else
// the accepted one. The runtime's ack of that re-send reaches the relay on
// bus.SubjRelayConfigResult() (the gateway knows which acks answer a re-send):
// accepted → it becomes the override; refused → it is recorded as refused
// and is not sent again, and when it was a pending one the accepted
// override (if any) is sent next, so the runtime runs with what it last
// accepted. A refused admin update (PUT) leaves the accepted override in
// force the same way.

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const refusedNote = " (the override is recorded as refused and not sent again; the last accepted override, if any, stays in force)"

// keepOverrides carries the override state of old onto a re-registered
// record and returns the override to send after hello.ack (nil: none).
func keepOverrides(old, rec *syv1.EndpointRecord) *syv1.EndpointConfigUpdate {
	rec.Override, rec.PendingOverride = old.GetOverride(), old.GetPendingOverride()
	rec.RefusedOverride, rec.RefusedError, rec.RefusedAt = old.GetRefusedOverride(), old.GetRefusedError(), old.GetRefusedAt()
	if rec.PendingOverride != nil {
		return rec.PendingOverride
	}
	return rec.Override
}

// applyConfigAck records the runtime's answer to override sent: accepted,
// it is the endpoint's override (and no longer pending or refused);
// refused, it is the refused one and no longer pending or in force. A
// record that no longer holds sent (a newer update) is left alone.
func (s *Service) applyConfigAck(ctx context.Context, id string, sent *syv1.EndpointConfigUpdate, ack *syv1.EndpointConfigAck) {
	_, err := s.reg.update(ctx, id, func(rec *syv1.EndpointRecord) { applyAck(rec, sent, ack, clock.Stamp(s.clock.Now())) })
	if err != nil {
		s.log.WarnContext(ctx, "config ack not recorded", "endpoint", id, "err", err)
		return
	}
	if !ack.GetOk() {
		s.log.WarnContext(ctx, "endpoint config override refused by the runtime", "endpoint", id, "error", ack.GetError())
	}
}

func applyAck(rec *syv1.EndpointRecord, sent *syv1.EndpointConfigUpdate, ack *syv1.EndpointConfigAck, now string) {
	pending, current := proto.Equal(rec.GetPendingOverride(), sent), proto.Equal(rec.GetOverride(), sent)
	if !pending && !current {
		return
	}
	if pending {
		rec.PendingOverride = nil
	}
	if ack.GetOk() {
		rec.Override = sent
		if proto.Equal(rec.GetRefusedOverride(), sent) {
			rec.RefusedOverride, rec.RefusedError, rec.RefusedAt = nil, "", ""
		}
		return
	}
	if current {
		rec.Override = nil
	}
	rec.RefusedOverride, rec.RefusedError, rec.RefusedAt = sent, ack.GetError(), now
	if rec.RefusedError == "" {
		rec.RefusedError = "the runtime refused the config update"
	}
}

// configResultRequest serves bus.SubjRelayConfigResult(): Envelope{type:
// endpoint.config_ack, endpoint_id, runtime_id} for an override re-sent
// after a hello. The reply is an endpoint.config_update to send next (the
// accepted override, after a pending one was refused), or an
// endpoint.config_ack with nothing to send, or an Error.
func (s *Service) configResultRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	id, ack := env.GetEndpointId(), env.GetEndpointConfigAck()
	rec, _, err := s.reg.eps.EndpointRev(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorEnvelope(errcode.EndpointUnknown, "no endpoint "+id)
	}
	if err != nil {
		return errorEnvelope(errcode.Unavailable, "endpoint registry unavailable, retry")
	}
	if rec.GetRuntimeId() != env.GetRuntimeId() {
		return errorEnvelope(errcode.Forbidden, "endpoint "+id+" belongs to another runtime")
	}
	sent := rec.GetPendingOverride()
	if sent == nil {
		sent = rec.GetOverride()
	}
	done := &syv1.Envelope{Type: kind.EndpointConfigAck, EndpointId: id}
	if sent == nil {
		return done
	}
	s.applyConfigAck(ctx, id, sent, ack)
	if ack.GetOk() || sent == rec.GetOverride() || rec.GetOverride() == nil {
		return done
	}
	return &syv1.Envelope{Type: kind.EndpointConfigUpdate, EndpointId: id,
		Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: rec.GetOverride()}}
}
