package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// serve subscribes the request subjects (queue group "session", so each
// request is answered by one replica) and returns the subscriptions.
func (s *Scheduler) serve(ctx context.Context) ([]*nats.Subscription, error) {
	handlers := map[string]func(context.Context, *syv1.JobRequest) *syv1.JobReply{
		bus.SubjJobsCreate(): s.handleCreate,
		bus.SubjJobsList():   s.handleList,
		bus.SubjJobsDelete(): s.handleDelete,
	}
	var subs []*nats.Subscription
	for subject, h := range handlers {
		sub, err := s.bus.NC.QueueSubscribe(subject, bus.QueueSession, func(m *nats.Msg) { s.answer(ctx, m, h) })
		if err != nil {
			for _, old := range subs {
				_ = old.Unsubscribe()
			}
			return nil, fmt.Errorf("jobs: subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	if err := s.bus.NC.Flush(); err != nil { // subscribed before ready
		for _, old := range subs {
			_ = old.Unsubscribe()
		}
		return nil, fmt.Errorf("jobs: flush subscriptions: %w", err)
	}
	return subs, nil
}

func (s *Scheduler) answer(ctx context.Context, m *nats.Msg, h func(context.Context, *syv1.JobRequest) *syv1.JobReply) {
	rctx, env, err := bus.Decode(ctx, m.Data, m.Header)
	var reply *syv1.JobReply
	switch {
	case err != nil:
		reply = replyErr(errorf(errcode.InvalidMessage, "undecodable request: %v", err))
	case env.GetJobRequest() == nil:
		reply = replyErr(errorf(errcode.InvalidMessage, "request has no job_request body"))
	default:
		reply = h(rctx, env.GetJobRequest())
	}
	out := &syv1.Envelope{Type: TypeReply, Body: &syv1.Envelope_JobReply{JobReply: reply}}
	if err := s.bus.Reply(rctx, m, out); err != nil {
		s.log.Warn("jobs: reply failed", "subject", m.Subject, "err", err)
	}
}

func (s *Scheduler) handleCreate(ctx context.Context, req *syv1.JobRequest) *syv1.JobReply {
	if req.GetJob() == nil {
		return replyErr(errorf(errcode.InvalidMessage, "job is required"))
	}
	j, err := s.store.create(ctx, req.GetJob())
	if err != nil {
		return replyErr(err)
	}
	s.log.Info("job created", "job", j.GetName(), "schedule", j.GetSchedule(), "endpoint", j.GetEndpointId(), "owner", j.GetOwner())
	return &syv1.JobReply{Job: j}
}

func (s *Scheduler) handleList(ctx context.Context, req *syv1.JobRequest) *syv1.JobReply {
	list, err := s.store.list(ctx, req.GetOwner())
	if err != nil {
		return replyErr(err)
	}
	return &syv1.JobReply{Jobs: list}
}

func (s *Scheduler) handleDelete(ctx context.Context, req *syv1.JobRequest) *syv1.JobReply {
	j, err := s.store.delete(ctx, req.GetName())
	if err != nil {
		return replyErr(err)
	}
	s.log.Info("job deleted", "job", j.GetName())
	return &syv1.JobReply{Job: j}
}

func replyErr(err error) *syv1.JobReply {
	var je *Error
	if !errors.As(err, &je) {
		je = &Error{Code: errcode.Internal, Message: err.Error()}
	}
	return &syv1.JobReply{Error: &syv1.JobError{Code: je.Code, Message: je.Message}}
}
