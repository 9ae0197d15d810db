package sessions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// handleInbound handles one SY_IN message: an envelope, or the envelopes
// of a batch (bus.Batch), each under its own trace context. A batch's
// envelopes keep their order within each session; the sessions of a batch
// are handled side by side (their order relative to each other is not
// part of any contract, and a partition already interleaves them), so a
// batch costs about one append round trip per frame of its busiest
// session, not one per frame. A failure retries the whole message, so the
// envelopes handled before it are handled again, which handle is built
// for; an unprocessable envelope is dropped alone.
func (s *Service) handleInbound(ctx context.Context, env *syv1.Envelope) error {
	if env.GetType() != kind.InBatch {
		return s.handle(ctx, env)
	}
	var order []string
	bySession := map[string][]traced{}
	for ectx, e := range bus.Unbatch(ctx, env) {
		id := e.GetSessionId()
		if _, ok := bySession[id]; !ok {
			order = append(order, id)
		}
		bySession[id] = append(bySession[id], traced{ectx, e})
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, id := range order[1:] {
		wg.Go(func() { errs[i+1] = s.handleInOrder(bySession[id]) })
	}
	errs[0] = s.handleInOrder(bySession[order[0]])
	wg.Wait()
	return errors.Join(errs...)
}

// traced is an envelope with the context it is handled under.
type traced struct {
	ctx context.Context
	env *syv1.Envelope
}

// handleInOrder handles envelopes one after the other, stopping at the
// first failure; an unprocessable one is logged and skipped.
func (s *Service) handleInOrder(envs []traced) error {
	for _, t := range envs {
		err := s.handle(t.ctx, t.env)
		if errors.Is(err, bus.ErrPoison) {
			s.log.ErrorContext(t.ctx, "dropping unprocessable envelope of a batch", "type", t.env.GetType(), "session", t.env.GetSessionId(), "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// handle processes one inbound envelope. Every effect it has is keyed by
// the envelope id (transcript Nats-Msg-Id, runtime command id, idempotent
// record updates), so a redelivery after a crash repeats nothing.
func (s *Service) handle(ctx context.Context, env *syv1.Envelope) error {
	ctx, span := s.tracer.Start(ctx, "session.handle "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.type", env.GetType())),
		telemetry.Messaging(telemetry.OpProcess, bus.Subject(ctx)))
	defer span.End()
	start := time.Now()
	err := s.dispatch(ctx, env)
	s.m.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.failed.WithLabelValues(env.GetType()).Inc()
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	s.m.handled.WithLabelValues(env.GetType()).Inc()
	return nil
}

// ownerCheck says whether a handler acts on the sender's own session.
type ownerCheck int

const (
	// noOwner: internal envelopes (sweeper, relay, runtime presence).
	noOwner ownerCheck = iota
	// owner: load the record from KV and check the sender owns it.
	owner
	// ownerCached: as owner, but a cached record will do for the check
	// (runtime output: the runtime of a session never changes), so
	// streamed output costs no KV read per frame.
	ownerCached
)

// handler is how one inbound kind is handled.
type handler struct {
	name  string // for tests and logs
	owner ownerCheck
	// run gets the session record when owner != noOwner (never nil then).
	run func(context.Context, *syv1.Envelope, *syv1.SessionInfo) error
}

// handlers is the dispatch table: inbound kind → handler.
func (s *Service) handlers() map[string]handler {
	internal := func(name string, f func(context.Context, *syv1.Envelope) error) handler {
		return handler{name: name, run: func(ctx context.Context, env *syv1.Envelope, _ *syv1.SessionInfo) error { return f(ctx, env) }}
	}
	event := func(name string, endsTurn func(*syv1.Envelope) bool) handler {
		return handler{name: name, owner: ownerCached, run: func(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
			return s.runtimeEvent(ctx, env, info, endsTurn(env))
		}}
	}
	never := func(*syv1.Envelope) bool { return false }
	return map[string]handler{
		kind.UserMessage:        {name: "userMessage", owner: owner, run: s.userMessage},
		kind.TurnStarted:        event("runtimeEvent", never),
		kind.AgentOutput:        event("runtimeEvent", never),
		kind.FileAvailable:      event("runtimeEvent", never),
		kind.ToolUse:            event("runtimeEvent", never),
		kind.ToolResult:         event("runtimeEvent", never),
		kind.TurnCompleted:      {name: "runtimeEvent+endsTurn", owner: ownerCached, run: s.turnCompleted},
		kind.StopAck:            event("runtimeEvent+endsTurnIfOk", func(env *syv1.Envelope) bool { return env.GetStopAck().GetOk() }),
		kind.PermissionRequest:  {name: "permissionRequest", owner: owner, run: s.permissionRequest},
		kind.PermissionResponse: {name: "permissionResponse", owner: owner, run: s.permissionResponse},
		kind.SessionCreated:     {name: "sessionCreated", owner: owner, run: s.sessionCreated},
		kind.SessionClose:       {name: "sessionClose", owner: owner, run: s.sessionClose},
		kind.StopRequest:        {name: "clientCommand", owner: owner, run: s.clientCommand},
		kind.FileUpload:         {name: "clientCommand", owner: owner, run: s.clientCommand},
		kind.PermissionTimeout:  internal("permissionTimeout", s.permissionTimeout),
		kind.SessionIdle:        internal("sessionIdle", s.sessionIdle),
		kind.RuntimeStatus:      internal("runtimeStatus", s.runtimeStatus),
		kind.RouteFailed:        internal("routeFailed", s.routeFailed),
		kind.ChatDequeue:        internal("dequeue", s.dequeue),
	}
}

// dispatch runs env's handler, after the one check that its sender owns
// the session when the handler needs it.
func (s *Service) dispatch(ctx context.Context, env *syv1.Envelope) error {
	h, ok := s.table[env.GetType()]
	if !ok {
		return fmt.Errorf("%w: unexpected inbound type %q", bus.ErrPoison, env.GetType())
	}
	var info *syv1.SessionInfo
	if h.owner == ownerCached {
		if info = s.records.get(env.GetSessionId()); info != nil && !authorized(info, env) {
			info = nil // perhaps stale: decide on the stored record
		}
	}
	if h.owner != noOwner && info == nil {
		var err error
		if info, err = s.session(ctx, env); info == nil {
			return err
		}
	}
	if err := h.run(ctx, env, info); err != nil {
		return err
	}
	if h.owner != noOwner && env.GetWantReceipt() && fromRuntime(env.GetOrigin()) {
		s.receipt(ctx, env)
	}
	return nil
}

// receipt tells the runtime socket env came from that env was handled and
// that the socket is the session's runtime (kind.InReceipt): the gateway
// then appends the session's streamed output itself
// (services/gateway/edge/direct.go). A lost receipt costs only that: the
// socket asks again with its next frame for SY_IN.
func (s *Service) receipt(ctx context.Context, env *syv1.Envelope) {
	origin := env.GetOrigin()
	r := &syv1.Envelope{Id: env.GetId(), Type: kind.InReceipt, SessionId: env.GetSessionId(), Target: origin}
	if err := s.out.Send(ctx, bus.PodSubject(origin.GetPod()), r); err != nil {
		s.log.DebugContext(ctx, "receipt not sent", "session", env.GetSessionId(), "err", err)
	}
}

// session loads the record of env's session and checks that env's sender
// may act on it. A nil record with a nil error means the sender was
// answered with an error frame and the envelope is done.
func (s *Service) session(ctx context.Context, env *syv1.Envelope) (*syv1.SessionInfo, error) {
	info, _, err := s.sessions.Session(ctx, env.GetSessionId())
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, s.reject(ctx, env, errcode.SessionNotFound, "no session "+env.GetSessionId())
	}
	if err != nil {
		return nil, err
	}
	if !authorized(info, env) {
		return nil, s.reject(ctx, env, errcode.Forbidden, "this socket may not act on session "+env.GetSessionId())
	}
	return info, nil
}

// authorized: a runtime acts on its own sessions, a user on theirs.
func authorized(info *syv1.SessionInfo, env *syv1.Envelope) bool {
	if fromRuntime(env.GetOrigin()) {
		return env.GetRuntimeId() == info.GetRuntimeId()
	}
	return env.GetUserId() == info.GetUserId()
}

// fromRuntime says whether a route is a runtime's socket: Route.role, or
// Route.dialect from gateways that set the role there.
func fromRuntime(r *syv1.Route) bool {
	if role := r.GetRole(); role != "" {
		return role == kind.RoleRuntime.String()
	}
	return r.GetDialect() == kind.RoleRuntime.String()
}

// reject sends an error frame to the socket env came from.
func (s *Service) reject(ctx context.Context, env *syv1.Envelope, code, message string) error {
	origin := env.GetOrigin()
	if origin.GetPod() == "" {
		return nil
	}
	e := &syv1.Envelope{
		Id: env.GetId() + ".err", Type: kind.Error, SessionId: env.GetSessionId(), Ts: clock.Stamp(s.clock.Now()),
		Target: origin, Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: code, Message: message}},
	}
	trace.SpanFromContext(ctx).AddEvent("rejected", trace.WithAttributes(attribute.String("sy.code", code)))
	if err := s.out.Send(ctx, bus.PodSubject(origin.GetPod()), e); err != nil {
		s.log.WarnContext(ctx, "error frame not sent", "code", code, "err", err)
	}
	return nil
}

func (s *Service) userMessage(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	if info.GetStatus() != catalog.StatusActive {
		return s.reject(ctx, env, errcode.SessionClosed, "session "+info.GetId()+" is "+info.GetStatus())
	}
	msgID := env.GetUserMessage().GetMessageId()
	if done, err := s.followup(ctx, env, info); done { // chat follow-ups (followup.go)
		return err
	}
	if info.GetTurnMessageId() != "" && info.GetTurnMessageId() != msgID {
		return s.reject(ctx, env, errcode.TurnInProgress, "A turn is already in progress for this session")
	}
	if info.GetTurnMessageId() == "" { // a new turn (a redelivery of the running one was charged already)
		refusal, err := s.quota.charge(ctx, env.GetUserId(), int64(proto.Size(env.GetUserMessage())), s.clock.Now())
		if err != nil {
			return err
		}
		if refusal != "" {
			s.m.quotaRefused.Inc()
			return s.reject(ctx, env, errcode.QuotaExceeded, refusal)
		}
		var busy bool
		info, err = s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
			if si.GetTurnMessageId() != "" {
				busy = si.GetTurnMessageId() != msgID
				return false
			}
			si.TurnMessageId, si.LastActivity = msgID, clock.Stamp(s.clock.Now())
			return true
		})
		if err != nil {
			return err
		}
		if busy {
			return s.reject(ctx, env, errcode.TurnInProgress, "A turn is already in progress for this session")
		}
	}
	return s.startTurn(ctx, env, info)
}

// runtimeEvent stores an event a runtime sent; endsTurn clears the turn.
// The sender check uses the cached record when there is one (a session's
// runtime never changes), so streamed output costs one JetStream append.
func (s *Service) runtimeEvent(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo, endsTurn bool) error {
	if err := s.appendTranscript(ctx, env); err != nil {
		return err
	}
	if !endsTurn {
		return nil
	}
	info, err := s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
		if si.GetTurnMessageId() == "" {
			return false
		}
		endTurn(si)
		si.LastActivity = clock.Stamp(s.clock.Now())
		return true
	})
	if err != nil {
		return err
	}
	return s.nextQueued(ctx, env.GetId(), info)
}

func (s *Service) clientCommand(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	if info.GetStatus() != catalog.StatusActive {
		return s.reject(ctx, env, errcode.SessionClosed, "session "+info.GetId()+" is "+info.GetStatus())
	}
	return s.toRuntime(ctx, info, env)
}

// sessionClose handles session.close from either side: the record is
// closed, clients get session.closed, and a client's close goes on to the
// runtime.
func (s *Service) sessionClose(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	reason := env.GetSessionClose().GetReason()
	byRuntime := fromRuntime(env.GetOrigin())
	if reason == "" {
		reason = map[bool]string{true: "runtime_closed", false: "user_requested"}[byRuntime]
	}
	if err := s.closeSession(ctx, env.GetId(), info.GetId(), reason, env.GetTs()); err != nil {
		return err
	}
	if byRuntime {
		return nil
	}
	return s.toRuntime(ctx, info, env)
}

// closeSession marks a session closed and appends session.closed.
func (s *Service) closeSession(ctx context.Context, id, session, reason, ts string) error {
	_, err := s.cat.UpdateSession(ctx, session, func(si *syv1.SessionInfo) bool {
		if si.GetStatus() == catalog.StatusClosed {
			return false
		}
		si.Status, si.CloseReason, si.ClosedAt, si.TurnMessageId = catalog.StatusClosed, reason, clock.Stamp(s.clock.Now()), ""
		return true
	})
	if err != nil {
		return err
	}
	closed := &syv1.Envelope{
		Id: id + ".closed", Type: kind.SessionClosed, SessionId: session, Ts: ts,
		Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: session, Reason: reason}},
	}
	if err := s.appendTranscript(ctx, closed); err != nil {
		return err
	}
	s.tw.Forget(session)
	return nil
}

// appendTranscript stores env as the next message of its session; the
// gateways holding interest in the session fan it out.
func (s *Service) appendTranscript(ctx context.Context, env *syv1.Envelope) error {
	_, err := s.appendTranscriptSeq(ctx, env)
	return err
}

// appendTranscriptSeq is appendTranscript returning the stored seq (the
// first one, when env was stored before).
func (s *Service) appendTranscriptSeq(ctx context.Context, env *syv1.Envelope) (int64, error) {
	out, err := s.tw.Append(ctx, transcript.Entry(env))
	if err != nil {
		return 0, err
	}
	s.m.appended.Inc()
	return out.GetSeq(), nil
}

// toRuntime hands a command for the session's runtime to the relay.
func (s *Service) toRuntime(ctx context.Context, info *syv1.SessionInfo, env *syv1.Envelope) error {
	cmd := &syv1.Envelope{
		Id: env.GetId() + ".rt", Type: env.GetType(), SessionId: info.GetId(), Ts: env.GetTs(),
		Origin: env.GetOrigin(), UserId: env.GetUserId(), RuntimeId: info.GetRuntimeId(), EndpointId: info.GetEndpointId(),
		Body: env.GetBody(),
	}
	_, err := s.bus.Publish(ctx, bus.RuntimeSubject(s.cfg.Partitions, info.GetId()), cmd)
	return err
}

// routeFailed undoes what a command that never reached its runtime
// started, and tells whoever sent it.
func (s *Service) routeFailed(ctx context.Context, env *syv1.Envelope) error {
	rf := env.GetRouteFailed()
	orig := rf.GetOriginal()
	switch orig.GetType() {
	case kind.UserMessage:
		msgID := orig.GetUserMessage().GetMessageId()
		info, err := s.cat.UpdateSession(ctx, orig.GetSessionId(), func(si *syv1.SessionInfo) bool {
			if si.GetTurnMessageId() != msgID {
				return false
			}
			endTurn(si)
			return true
		})
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		if err := s.reject(ctx, orig, rf.GetCode(), rf.GetMessage()); err != nil {
			return err
		}
		return s.nextQueued(ctx, env.GetId(), info)
	case kind.SessionCreate:
		return s.createFailed(ctx, orig.GetSessionId(), rf.GetCode(), rf.GetMessage())
	}
	return s.reject(ctx, orig, rf.GetCode(), rf.GetMessage())
}
