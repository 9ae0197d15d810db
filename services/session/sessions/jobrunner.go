package sessions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/session/jobs"
)

// Scheduled jobs (services/session/jobs): every replica runs a Scheduler
// whose Runner is jobRunner, so a job's turn takes the path of any turn:
// the session is created like a REST session, the prompt enters SY_IN as a
// user.message and the partition consumer handles it; the runner follows
// the session's transcript in SY_EVT to collect the answer.

// jobDialect names the job runner in the Route of the envelopes it
// publishes (it plays the client role).
const jobDialect = "job"

// jobFailure is a failed run with the code its notification carries.
type jobFailure struct {
	code, msg string
}

func (e *jobFailure) Error() string { return e.msg }

// Code is the notification's error.code (jobs.Coded).
func (e *jobFailure) Code() string { return e.code }

// jobRunner is the session service's jobs.Runner.
type jobRunner struct{ s *Service }

// RunTurn creates a session on endpointID as owner, sends prompt as a
// user.message and waits for the turn's end, returning the concatenated
// agent.output text. A session that cannot be created, a runtime that goes
// offline, a refused message, a turn that reports an error or a closed
// session are *jobFailure (runtime_offline, runtime_error, …); ctx's end
// (the run timeout, a lost lease, the replica stopping) stops the turn and
// returns ctx's error.
func (r jobRunner) RunTurn(ctx context.Context, endpointID, owner, prompt string) (string, string, error) {
	s := r.s
	reply := s.createSession(ctx, &syv1.CreateSessionRequest{EndpointId: endpointID, UserId: owner})
	if e := reply.GetError(); e != nil {
		return "", "", createError(endpointID, e)
	}
	sid := reply.GetSession().GetId()
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	// Refusals of the message (turn_in_progress, quota_exceeded, a route
	// failure) are error frames sent to the origin's pod subject: the
	// runner listens on one of its own.
	origin := &syv1.Route{Pod: "job-" + uuid.NewString(), ConnId: jobDialect, Dialect: jobDialect, Role: kind.RoleClient.String()}
	refusals := make(chan *nats.Msg, 4)
	sub, err := s.bus.NC.ChanSubscribe(bus.PodSubject(origin.GetPod()), refusals)
	if err != nil {
		return "", "", fmt.Errorf("jobs: listen for refusals: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	events, stop, err := r.follow(ctx, sid)
	if err != nil {
		return "", "", err
	}
	defer stop()
	msgID := jobMessageID(ctx)
	msg := &syv1.Envelope{
		Id: msgID, Type: kind.UserMessage, SessionId: sid, Ts: clock.Stamp(s.clock.Now()), UserId: owner, Origin: origin,
		Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: msgID, Content: prompt}},
	}
	if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, sid), msg); err != nil {
		return "", "", &jobFailure{code: errcode.Unavailable, msg: "the prompt was not accepted: " + err.Error()}
	}
	text, err := r.await(ctx, msgID, events, refusals)
	if err != nil {
		if ctx.Err() != nil {
			r.stopTurn(ctx, msg)
		}
		return "", "", err
	}
	return sid, text, nil
}

// createError turns a failed session creation into the run's failure.
func createError(endpointID string, e *syv1.Error) error {
	code := e.GetCode()
	switch code {
	case errcode.EndpointUnknown, errcode.RuntimeOffline:
		// No runtime ever registered the endpoint, or none is online.
		return &jobFailure{code: errcode.RuntimeOffline, msg: "no runtime online for endpoint " + endpointID + ": " + e.GetMessage()}
	case "":
		code = errcode.RuntimeError
	}
	return &jobFailure{code: code, msg: "session not created on endpoint " + endpointID + ": " + e.GetMessage()}
}

// jobMessageID is the user.message id of a run: derived from the tick and
// the attempt, so a redelivery is the same message and a takeover a new one.
func jobMessageID(ctx context.Context) string {
	if ri, ok := jobs.RunFromContext(ctx); ok {
		return fmt.Sprintf("job-%s-%d", ri.Key, ri.Attempt)
	}
	return "job-" + uuid.NewString()
}

// follow delivers the stored transcript of session sid, from its start, in
// order (an ordered consumer on sy.evt.<sid>: nothing is missed, however
// fast the runtime answers). stop ends it and deletes the consumer.
func (r jobRunner) follow(ctx context.Context, sid string) (<-chan *syv1.Envelope, func(), error) {
	cons, err := r.s.bus.JS.OrderedConsumer(ctx, bus.StreamTranscript(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.TranscriptSubject(sid)}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: follow transcript of %s: %w", sid, err)
	}
	out := make(chan *syv1.Envelope, 64)
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_, env, err := bus.Decode(ctx, m.Data(), nil)
		if err != nil {
			r.s.log.Warn("jobs: undecodable transcript entry", "session", sid, "err", err)
			return
		}
		select {
		case out <- env:
		case <-done:
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: follow transcript of %s: %w", sid, err)
	}
	// An ordered consumer lives on the server until deleted (or 5 minutes
	// idle), as in transcript.readRange: stop deletes it.
	stop := func() {
		close(done)
		cc.Stop()
		if info := cons.CachedInfo(); info != nil {
			_ = r.s.bus.JS.DeleteConsumer(context.WithoutCancel(ctx), bus.StreamTranscript(), info.Name)
		}
	}
	return out, stop, nil
}

// await reads the transcript until the turn of msgID ends.
func (r jobRunner) await(ctx context.Context, msgID string, events <-chan *syv1.Envelope, refusals <-chan *nats.Msg) (string, error) {
	var text strings.Builder
	started := false
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("jobs: turn did not complete: %w", ctx.Err())
		case m := <-refusals:
			if _, env, err := bus.Decode(ctx, m.Data, m.Header); err == nil && env.GetError() != nil {
				return "", refusal(env.GetError())
			}
		case env := <-events:
			done, err := turnEvent(env, msgID, &started, &text)
			if done || err != nil {
				return text.String(), err
			}
		}
	}
}

// turnEvent applies one transcript entry to a run and reports whether the
// turn is over.
func turnEvent(env *syv1.Envelope, msgID string, started *bool, text *strings.Builder) (bool, error) {
	switch env.GetType() {
	case kind.UserMessage:
		if env.GetUserMessage().GetMessageId() == msgID {
			*started = true
		}
	case kind.AgentOutput:
		if *started {
			text.WriteString(env.GetAgentOutput().GetContent())
		}
	case kind.TurnCompleted:
		if !*started {
			return false, nil
		}
		if o := env.GetTurnCompleted().GetOutcome(); o.GetIsError() {
			msg := "the turn failed"
			if len(o.GetErrors()) > 0 {
				msg += ": " + strings.Join(o.GetErrors(), "; ")
			}
			return true, &jobFailure{code: errcode.RuntimeError, msg: msg}
		}
		return true, nil
	case kind.StopAck:
		if *started && env.GetStopAck().GetOk() {
			return true, &jobFailure{code: errcode.RuntimeError, msg: "the turn was stopped"}
		}
	case kind.RuntimeStatus:
		if !env.GetRuntimeStatus().GetOnline() {
			return true, &jobFailure{code: errcode.RuntimeOffline, msg: "the runtime went offline during the turn"}
		}
	case kind.SessionClosed:
		return true, &jobFailure{code: errcode.RuntimeError, msg: "the session closed during the turn (" + env.GetSessionClose().GetReason() + ")"}
	}
	return false, nil
}

// refusal is the failure of a prompt the hub refused.
func refusal(e *syv1.Error) error {
	code := e.GetCode()
	if code == "" {
		code = errcode.RuntimeError
	}
	return &jobFailure{code: code, msg: "the prompt was refused: " + e.GetMessage()}
}

// stopTurn asks the runtime to stop a turn the run gave up on (best
// effort: the session stays, its transcript shows how far it got).
func (r jobRunner) stopTurn(ctx context.Context, msg *syv1.Envelope) {
	s := r.s
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	stop := &syv1.Envelope{
		Id: msg.GetId() + ".stop", Type: kind.StopRequest, SessionId: msg.GetSessionId(), Ts: clock.Stamp(s.clock.Now()),
		UserId: msg.GetUserId(), Origin: msg.GetOrigin(),
		Body: &syv1.Envelope_StopRequest{StopRequest: &syv1.StopRequest{SessionId: msg.GetSessionId()}},
	}
	if _, err := s.bus.Publish(sctx, bus.InboundSubject(s.cfg.Partitions, msg.GetSessionId()), stop); err != nil {
		s.log.Warn("jobs: stop.request for an abandoned run not sent", "session", msg.GetSessionId(), "err", err)
	}
}

// startJobs starts this replica's scheduler (after the consumers: a run
// needs them). It runs until stopJobs; a scheduler that fails (a watch
// ended on a NATS outage) is replaced by a new one.
func (s *Service) startJobs(ctx context.Context) error {
	if s.cfg.Jobs == (jobs.Config{}) {
		// A Config built in code (tests, embedders) without the jobs
		// block: the documented defaults, as config.Load would set them.
		s.cfg.Jobs = jobs.DefaultConfig()
	}
	opt := jobs.Options{Replica: s.cfg.PodName(), StreamReplicas: s.cfg.StreamReplicas, Log: s.log}
	sched, err := jobs.New(s.bus, jobRunner{s: s}, s.cfg.Jobs, opt)
	if err != nil {
		return err
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.stopJobs = func() { cancel(); <-done }
	go func() {
		defer close(done)
		for {
			err := sched.Run(jctx)
			if jctx.Err() != nil {
				return
			}
			s.log.Error("jobs scheduler stopped; starting a new one", "err", err)
			select {
			case <-jctx.Done():
				return
			case <-time.After(time.Second):
			}
			// Config and runner were accepted above: New cannot fail now.
			sched, _ = jobs.New(s.bus, jobRunner{s: s}, s.cfg.Jobs, opt)
		}
	}()
	return nil
}
