package edge

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// onDirected takes an envelope addressed to one local socket
// (sy.gw.<pod>) and queues it on that socket's delivery worker, so a slow
// delivery (a file.upload loading its bytes) delays only its own socket
// while the pod's other directed frames go on. Per socket, deliveries keep
// their order. When the sender asked for it (the relay does), the worker
// confirms once the frame is queued on the socket.
func (s *Server) onDirected(m *nats.Msg) {
	ctx, env, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil {
		s.log.Warn("undecodable directed envelope", "err", err)
		return
	}
	ctx, span := s.tracer.Start(ctx, "gateway.deliver "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.conn", env.GetTarget().GetConnId())),
		telemetry.Messaging(telemetry.OpProcess, m.Subject))
	c := s.Conn(env.GetTarget().GetConnId())
	if c == nil {
		s.confirm(ctx, span, m, env, deliveryError("socket "+env.GetTarget().GetConnId()+" is not on pod "+s.pod))
		return
	}
	if !c.deliveries.push(func() { s.confirm(ctx, span, m, env, s.deliverTo(ctx, c, env)) }) {
		s.confirm(ctx, span, m, env, deliveryError("socket "+c.id+" has too many deliveries waiting"))
	}
}

// confirm answers a directed delivery's request (if any) and ends its span.
func (s *Server) confirm(ctx context.Context, span trace.Span, m *nats.Msg, env *syv1.Envelope, err error) {
	defer span.End()
	if m.Reply == "" {
		return
	}
	reply := &syv1.Envelope{Type: kind.DeliveryAck, Id: env.GetId()}
	if err != nil {
		span.SetAttributes(attribute.String("sy.delivery_error", err.Error()))
		reply.Body = &syv1.Envelope_Error{Error: &syv1.Error{Code: "conn_gone", Message: err.Error()}}
	}
	if err := s.bus.Reply(ctx, m, reply); err != nil {
		s.log.WarnContext(ctx, "delivery ack not sent", "err", err)
	}
}

type deliveryError string

func (e deliveryError) Error() string { return string(e) }

// DeliveryError is an error a DeliveryHook returns to refuse a delivery.
func DeliveryError(msg string) error { return deliveryError(msg) }

// deliverTo runs env's delivery hook and queues it on c.
func (s *Server) deliverTo(ctx context.Context, c *Conn, env *syv1.Envelope) error {
	switch env.GetType() {
	case kind.ConnClose:
		return s.closeConn(c, env)
	case kind.InReceipt:
		c.receipted(env)
		return nil
	}
	if hook := s.deliveryHooks[env.GetType()]; hook != nil {
		if err := runHook(ctx, c, env, hook); err != nil {
			return err
		}
	}
	if err := c.SendEnvelope(env); err != nil {
		return deliveryError("socket " + c.id + ": " + err.Error())
	}
	return nil
}

// runHook runs a delivery hook with a context that also ends with the
// socket, so a released socket never waits on a delivery still loading
// (release stops the socket's deliveries after cancelling its context).
// Only deliveries with a hook pay for it.
func runHook(ctx context.Context, c *Conn, env *syv1.Envelope, hook DeliveryHook) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.Context(), cancel)()
	return hook(ctx, c, env)
}

// closeConn ends a socket on request (kind.ConnClose, e.g. the relay
// after a token revocation): the reason as an error frame, then close 1008.
func (s *Server) closeConn(c *Conn, env *syv1.Envelope) error {
	if rid := env.GetRuntimeId(); rid != "" && rid != c.Principal() {
		return deliveryError("socket " + c.id + " is not runtime " + rid + "'s")
	}
	code, msg := env.GetError().GetCode(), env.GetError().GetMessage()
	if code == "" {
		code = errcode.AuthFailed
	}
	c.SendError("", code, msg)
	c.Close(ReasonAuthFailed, code)
	s.log.Info("socket closed on request", "conn", c.id, "runtime", c.Principal(), "code", code)
	return nil
}
