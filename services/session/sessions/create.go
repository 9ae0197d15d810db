package sessions

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// handleCreate serves one REST session creation: record the session, ask
// the runtime with session.create, and answer when session.created (or a
// routing failure, or the request timeout) comes back.
func (s *Service) handleCreate(ctx context.Context, m *nats.Msg) {
	ctx, req, err := bus.Decode(ctx, m.Data, m.Header)
	if err != nil {
		s.log.Warn("bad create request", "err", err)
		return
	}
	ctx, span := s.tracer.Start(ctx, "session.create", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	reply := s.createSession(ctx, req.GetCreateSessionRequest())
	span.SetAttributes(attribute.Int("http.status", int(reply.GetStatus())), attribute.String("sy.session_id", reply.GetSession().GetId()))
	s.m.creates.WithLabelValues(strconv.Itoa(int(reply.GetStatus()))).Inc()
	out := &syv1.Envelope{Type: kind.CreateSession, Body: &syv1.Envelope_CreateSessionReply{CreateSessionReply: reply}}
	if err := s.bus.Reply(ctx, m, out); err != nil {
		s.log.WarnContext(ctx, "create reply not sent", "err", err)
	}
}

func failure(status int, code, message string) *syv1.CreateSessionReply {
	return &syv1.CreateSessionReply{Status: int32(status), Error: &syv1.Error{Code: code, Message: message}}
}

func (s *Service) createSession(ctx context.Context, req *syv1.CreateSessionRequest) *syv1.CreateSessionReply {
	ep, err := s.cat.Endpoint(ctx, req.GetEndpointId())
	if errors.Is(err, catalog.ErrNotFound) {
		return failure(http.StatusNotFound, errcode.EndpointUnknown, "no endpoint "+req.GetEndpointId())
	}
	if err != nil {
		return failure(http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
	}
	now := clock.Stamp(s.clock.Now())
	info := &syv1.SessionInfo{
		Id: uuid.NewString(), EndpointId: ep.GetEndpoint().GetId(), RuntimeId: ep.GetRuntimeId(),
		UserId: req.GetUserId(), Status: catalog.StatusCreating, CreatedAt: now, LastActivity: now,
	}
	if err := s.cat.CreateSession(ctx, info); err != nil {
		return failure(http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
	}
	// Listen before asking, so the answer cannot arrive unheard.
	sub, err := s.bus.NC.SubscribeSync(bus.SessionCreatedSubject(info.GetId()))
	if err != nil {
		return failure(http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
	}
	defer func() { _ = sub.Unsubscribe() }()
	cmd := &syv1.Envelope{
		Id: "create." + info.GetId(), Type: kind.SessionCreate, SessionId: info.GetId(), Ts: now,
		UserId: info.GetUserId(), RuntimeId: info.GetRuntimeId(), EndpointId: info.GetEndpointId(),
		Body: &syv1.Envelope_SessionCreate{SessionCreate: &syv1.SessionCreate{SessionId: info.GetId(), EndpointId: info.GetEndpointId(), UserId: info.GetUserId()}},
	}
	if _, err := s.bus.Publish(ctx, bus.RuntimeSubject(s.cfg.Partitions, info.GetId()), cmd); err != nil {
		return failure(http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	msg, err := sub.NextMsgWithContext(wctx)
	if err != nil {
		_ = s.createFailed(ctx, info.GetId(), errcode.RuntimeTimeout, "")
		return failure(http.StatusGatewayTimeout, errcode.RuntimeTimeout, "the runtime did not answer session.create within "+s.cfg.RequestTimeout.String())
	}
	_, out, err := bus.Decode(ctx, msg.Data, msg.Header)
	if err != nil {
		return failure(http.StatusInternalServerError, errcode.Internal, err.Error())
	}
	return out.GetCreateSessionReply()
}

// sessionCreated records the runtime's answer to session.create and hands
// it to the replica waiting on the REST request.
func (s *Service) sessionCreated(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	sc := env.GetSessionCreated()
	info, err := s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
		if si.GetStatus() != catalog.StatusCreating {
			return false
		}
		si.NativeHandle = sc.GetNativeHandle()
		si.Status = catalog.StatusActive
		if !sc.GetOk() {
			si.Status, si.CloseReason, si.ClosedAt = catalog.StatusClosed, "runtime_error", clock.Stamp(s.clock.Now())
		}
		return true
	})
	if err != nil {
		return err
	}
	reply := &syv1.CreateSessionReply{Status: http.StatusCreated, Session: info}
	if !sc.GetOk() {
		reply = failure(http.StatusBadGateway, errcode.RuntimeError, "the runtime refused the session: "+sc.GetError())
	} else if info.GetStatus() != catalog.StatusActive {
		reply = failure(http.StatusGatewayTimeout, errcode.RuntimeTimeout, "session.created arrived after the request timed out")
	}
	return s.notifyCreated(ctx, info.GetId(), reply)
}

// createFailed closes a session whose session.create failed and answers
// the waiting request.
func (s *Service) createFailed(ctx context.Context, session, code, message string) error {
	_, err := s.cat.UpdateSession(ctx, session, func(si *syv1.SessionInfo) bool {
		if si.GetStatus() != catalog.StatusCreating {
			return false
		}
		si.Status, si.CloseReason, si.ClosedAt = catalog.StatusClosed, code, clock.Stamp(s.clock.Now())
		return true
	})
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if message == "" {
		return nil
	}
	return s.notifyCreated(ctx, session, failure(http.StatusServiceUnavailable, code, message))
}

func (s *Service) notifyCreated(ctx context.Context, session string, reply *syv1.CreateSessionReply) error {
	out := &syv1.Envelope{Type: kind.CreateSession, SessionId: session, Body: &syv1.Envelope_CreateSessionReply{CreateSessionReply: reply}}
	return s.bus.Send(ctx, bus.SessionCreatedSubject(session), out)
}
