package sessions

// Chat follow-ups (docs/protocol-notes.md, "Chat stream"): a user.message
// the chat room marked with a followup_mode that arrives while another
// turn runs is not refused with turn_in_progress:
//
//   - inject: it goes to the running turn at once (user.message with
//     followup:true to the runtime, and into the transcript); the turn
//     goes on and ends with one turn.completed.
//   - queue: it is kept in the session record (SessionInfo.queued, written
//     with a compare-and-set by the partition consumer, so it survives any
//     replica) and runs as a new turn when the turn before it ends: the
//     turn's end publishes chat.dequeue into the session's partition, whose
//     handler starts the head of the queue like a new user.message. The
//     head stays queued while its turn runs and is removed when it ends, so
//     a redelivered chat.dequeue repeats nothing.
//
// Messages without a mode (every other dialect) keep getting
// turn_in_progress, as document 003 says.

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// MaxQueued bounds the chat follow-ups queued on one session; more are
// refused with queue_full.
const MaxQueued = 32

// followup handles a chat user.message that may not start a turn now: a
// turn runs, or (queue mode) messages are queued before it. false: the
// message is no follow-up (turn_in_progress applies, or it starts a turn).
func (s *Service) followup(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) (bool, error) {
	um := env.GetUserMessage()
	msgID := um.GetMessageId()
	busy := info.GetTurnMessageId() != "" && info.GetTurnMessageId() != msgID
	switch um.GetFollowupMode() {
	case kind.FollowupInject:
		if !busy {
			return false, nil
		}
		if refused, err := s.chargeFollowup(ctx, env); refused || err != nil {
			return true, err
		}
		um.Followup = true
		if err := s.appendTranscript(ctx, env); err != nil {
			return true, err
		}
		return true, s.toRuntime(ctx, info, env)
	case kind.FollowupQueue:
		if !busy && len(info.GetQueued()) == 0 || info.GetTurnMessageId() == msgID {
			return false, nil
		}
		if refused, err := s.chargeFollowup(ctx, env); refused || err != nil {
			return true, err
		}
		return true, s.enqueue(ctx, env, info)
	}
	return false, nil
}

// chargeFollowup counts a follow-up against the user's quota like a new
// turn's message; true when it was refused (and the sender told).
func (s *Service) chargeFollowup(ctx context.Context, env *syv1.Envelope) (bool, error) {
	refusal, err := s.quota.charge(ctx, env.GetUserId(), int64(proto.Size(env.GetUserMessage())), s.clock.Now())
	if err != nil || refusal == "" {
		return false, err
	}
	s.m.quotaRefused.Inc()
	return true, s.reject(ctx, env, errcode.QuotaExceeded, refusal)
}

// enqueue adds a queue-mode follow-up to the session record (once: a
// redelivered one finds itself there) and, if no turn runs any more,
// starts the queue.
func (s *Service) enqueue(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	msgID := env.GetUserMessage().GetMessageId()
	raw, err := proto.Marshal(env)
	if err != nil {
		return err
	}
	full := false
	info, err = s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
		for _, q := range si.GetQueued() {
			if q.GetMessageId() == msgID {
				return false
			}
		}
		if full = len(si.GetQueued()) >= MaxQueued; full {
			return false
		}
		si.Queued = append(si.Queued, &syv1.QueuedMessage{MessageId: msgID, Envelope: raw})
		si.LastActivity = clock.Stamp(s.clock.Now())
		return true
	})
	if err != nil {
		return err
	}
	if full {
		return s.reject(ctx, env, errcode.QueueFull, "too many queued messages on this session (at most 32); wait for the stream to end")
	}
	return s.nextQueued(ctx, env.GetId(), info)
}

// endTurn is the record change when a turn ends: no turn runs, and the
// queued follow-up whose turn it was leaves the queue.
func endTurn(si *syv1.SessionInfo) {
	if q := si.GetQueued(); len(q) > 0 && q[0].GetMessageId() == si.GetTurnMessageId() {
		si.Queued = q[1:]
	}
	if si.GetTurnMessageId() != "" {
		si.LastTurnMessageId = si.GetTurnMessageId()
	}
	si.TurnMessageId, si.TurnSeq = "", 0
}

// nextQueued starts the session's queue when no turn runs and a follow-up
// waits: chat.dequeue into the session's partition, with an id derived
// from the envelope that ended the turn (so replicas and redeliveries
// publish it once). While the runtime is offline the queue waits; its
// runtime.status online starts it.
func (s *Service) nextQueued(ctx context.Context, cause string, info *syv1.SessionInfo) error {
	if info == nil || info.GetTurnMessageId() != "" || len(info.GetQueued()) == 0 || info.GetStatus() != catalog.StatusActive ||
		info.GetRuntimeOffline() {
		return nil
	}
	env := &syv1.Envelope{Id: cause + ".dq", Type: kind.ChatDequeue, SessionId: info.GetId(), Ts: clock.Stamp(s.clock.Now())}
	_, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, info.GetId()), env)
	return err
}

// dequeue starts the head of a session's queue as a new turn, if no other
// turn runs (that turn's end dequeues again).
func (s *Service) dequeue(ctx context.Context, env *syv1.Envelope) error {
	info, _, err := s.cat.Session(ctx, env.GetSessionId())
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.GetStatus() != catalog.StatusActive || len(info.GetQueued()) == 0 {
		return nil
	}
	head := info.GetQueued()[0]
	if t := info.GetTurnMessageId(); t != "" && t != head.GetMessageId() {
		return nil
	}
	msg := &syv1.Envelope{}
	if err := proto.Unmarshal(head.GetEnvelope(), msg); err != nil {
		s.log.WarnContext(ctx, "queued message unreadable; dropped", "session", info.GetId(), "err", err)
		_, err = s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
			if len(si.GetQueued()) == 0 || si.GetQueued()[0].GetMessageId() != head.GetMessageId() {
				return false
			}
			si.Queued = si.Queued[1:]
			return true
		})
		return err
	}
	info, err = s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
		if si.GetTurnMessageId() != "" {
			return false
		}
		si.TurnMessageId, si.LastActivity = head.GetMessageId(), clock.Stamp(s.clock.Now())
		return true
	})
	if err != nil {
		return err
	}
	if info.GetTurnMessageId() != head.GetMessageId() {
		return nil
	}
	return s.startTurn(ctx, msg, info)
}

// startTurn stores the user.message that starts a turn, records its seq
// for chat sockets that join mid-stream, and hands it to the runtime.
func (s *Service) startTurn(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	seq, err := s.appendTranscriptSeq(ctx, env)
	if err != nil {
		return err
	}
	if info.GetTurnSeq() != seq && env.GetUserMessage().GetFollowupMode() != "" {
		msgID := env.GetUserMessage().GetMessageId()
		if info, err = s.cat.UpdateSession(ctx, info.GetId(), func(si *syv1.SessionInfo) bool {
			if si.GetTurnMessageId() != msgID || si.GetTurnSeq() == seq {
				return false
			}
			si.TurnSeq = seq
			return true
		}); err != nil {
			return err
		}
	}
	return s.toRuntime(ctx, info, env)
}
