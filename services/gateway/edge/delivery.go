package edge

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// onDirected writes an envelope addressed to one local socket (sy.gw.<pod>)
// and, when the sender asked for it (the relay does), confirms that the
// frame was queued on the socket.
func (s *Server) onDirected(ctx context.Context, m *nats.Msg) {
	ctx, env, err := bus.Decode(ctx, m.Data, m.Header)
	if err != nil {
		s.log.Warn("undecodable directed envelope", "err", err)
		return
	}
	ctx, span := s.tracer.Start(ctx, "gateway.deliver "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.conn", env.GetTarget().GetConnId())))
	defer span.End()
	err = s.deliverTo(env)
	if m.Reply == "" {
		return
	}
	reply := &syv1.Envelope{Type: bus.TypeDeliveryAck, Id: env.GetId()}
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

func (s *Server) deliverTo(env *syv1.Envelope) error {
	sk := s.socket(env.GetTarget().GetConnId())
	if sk == nil {
		return deliveryError("socket " + env.GetTarget().GetConnId() + " is not on pod " + s.pod)
	}
	if env.GetType() == bus.TypeConnClose {
		return s.closeConn(sk, env) // admin.go
	}
	if env.GetType() == amurg.TypeFileUpload {
		if err := s.attachFile(context.Background(), env); err != nil { // files.go
			return err
		}
	}
	frame, err := amurg.Encode(env, sk.role)
	if err != nil {
		return err
	}
	if err := sk.conn.Send(frame); err != nil {
		return deliveryError("socket " + sk.id + ": " + err.Error())
	}
	sk.sent.Inc()
	return nil
}
