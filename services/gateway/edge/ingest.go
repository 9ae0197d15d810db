package edge

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Ingest hands an envelope from the socket to the session service (SY_IN),
// stamped with where it came from (Origin) and who sent it (runtime id or
// user id). A hook registered for its kind runs first. A client socket
// waits for the JetStream ack; a runtime socket streams (up to
// ingestWindow publishes in flight, then it waits), its frames batched
// where they queue up (batch.go). A frame that is not
// stored is answered with error{unavailable}.
func (c *Conn) Ingest(env *syv1.Envelope) {
	s := c.s
	if hook := s.ingestHooks[env.GetType()]; hook != nil && !hook(c.ctx, c, env) {
		return
	}
	part := bus.Partition(env.GetSessionId(), s.cfg.Partitions)
	if c.acks != nil { // streaming (runtime) sockets only
		if s.admit.pauses(part) {
			c.flushHeld() // what is held for other partitions does not wait
		}
		s.admit.wait(c.ctx, part)
	}
	subject := bus.InboundPartitionSubject(part, env.GetSessionId())
	ctx, span := s.tracer.Start(context.Background(), "gateway.ingest "+env.GetType(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.conn", c.id)),
		telemetry.Messaging(telemetry.OpSend, subject))
	env.Origin = c.Route()
	if c.role == kind.RoleRuntime {
		env.RuntimeId = c.Principal()
	} else {
		env.UserId = c.Principal()
	}
	ref := refID(env)
	assignID(env)
	size, limit := proto.Size(env), s.bus.NC.MaxPayload()
	if int64(size)+busHeaderSlack > limit {
		span.End()
		c.SendErrorRef(ref, env.GetSessionId(), errcode.MessageTooLarge, maxPayloadText("this "+env.GetType(), size, limit))
		return
	}
	if c.acks != nil {
		f := heldFrame{env: env, ref: ref, span: span, ctx: ctx, size: size}
		if !c.ingestDirect(f) {
			c.ingestInbound(env)
			c.hold(part, subject, f)
		}
		if !c.ws.MoreBuffered() && c.work.pending() == 0 {
			c.flushHeld() // nothing is coming right behind this frame
		}
		return
	}
	defer span.End()
	start := time.Now()
	_, err := s.bus.Publish(ctx, subject, env)
	s.m.publishLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		c.notAccepted(ctx, env, ref, span, err)
	}
}

// refID is the id the sender gave its frame (the envelope id, or a
// user.message's message_id): error frames about the frame carry it.
func refID(env *syv1.Envelope) string {
	if id := env.GetId(); id != "" {
		return id
	}
	return env.GetUserMessage().GetMessageId()
}

// Route is the socket's address on the bus (Envelope.origin).
// Route.dialect is the dialect's name ("amurg", "device", …) and Route.role
// the part the socket plays; the services read only the role.
func (c *Conn) Route() *syv1.Route {
	return &syv1.Route{Pod: c.s.pod, ConnId: c.id, Dialect: c.d.Name(), Role: c.role.String()}
}

// inflight is one publish (one frame, or a batch) waiting for its
// JetStream ack.
type inflight struct {
	fut    jetstream.PubAckFuture
	frames []heldFrame
	start  time.Time
}

// awaitAcks settles a streaming socket's publishes in order until the
// socket is released; every frame of a failed one is answered with
// error{unavailable}.
func (s *Server) awaitAcks(c *Conn) {
	for p := range c.acks {
		select {
		case <-p.fut.Ok():
		case err := <-p.fut.Err():
			for _, f := range p.frames {
				c.notAccepted(f.ctx, f.env, f.ref, f.span, err)
			}
		}
		took := time.Since(p.start).Seconds()
		for _, f := range p.frames { // per frame: a batch's frames were accepted together
			s.m.publishLatency.Observe(took)
			f.span.End()
		}
	}
}

// notAccepted tells the sender a frame was not stored (nothing is half
// accepted: the sender may retry it), naming the frame by its id. A frame
// the NATS server refused for its size is message_too_large, not a retry.
func (c *Conn) notAccepted(ctx context.Context, env *syv1.Envelope, ref string, span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	c.s.log.WarnContext(ctx, "frame not accepted", "type", env.GetType(), "err", err)
	if errors.Is(err, nats.ErrMaxPayload) {
		c.SendErrorRef(ref, env.GetSessionId(), errcode.MessageTooLarge, maxPayloadText("this "+env.GetType(), proto.Size(env), c.s.bus.NC.MaxPayload()))
		return
	}
	c.SendErrorRef(ref, env.GetSessionId(), errcode.Unavailable, "the hub could not accept this "+env.GetType()+"; retry")
}

// assignID gives an envelope its dedupe id: a user.message is identified
// by its client message_id (the document's idempotency key), other frames
// by their envelope id, and frames without one by a fresh id.
func assignID(env *syv1.Envelope) {
	if um := env.GetUserMessage(); um != nil {
		if um.GetMessageId() == "" {
			um.MessageId = nuid.Next()
		}
		env.Id = "msg-" + um.GetMessageId()
		return
	}
	if env.GetId() == "" {
		env.Id = nuid.Next()
	}
}

// announceRuntime tells the session service that a runtime's socket came
// or went; the session service marks the runtime's sessions and tells
// their subscribers (runtime.status frames). It travels on SY_IN like
// every other change, so it is not lost if a session replica is down.
func (s *Server) announceRuntime(ctx context.Context, rid string, online bool) {
	env := &syv1.Envelope{Id: nuid.Next(), Type: kind.RuntimeStatus, RuntimeId: rid, Ts: clock.Stamp(time.Now()),
		Body: &syv1.Envelope_RuntimeStatus{RuntimeStatus: &syv1.RuntimeStatus{RuntimeId: rid, Online: online}}}
	if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, "rt-"+rid), env); err != nil {
		s.log.WarnContext(ctx, "runtime status not announced", "runtime", rid, "online", online, "err", err)
	}
	for _, hook := range s.statusHooks {
		hook(ctx, rid, online)
	}
}
