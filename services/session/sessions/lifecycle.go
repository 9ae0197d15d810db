package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// sweep runs on every replica: it denies permission requests past their
// deadline and closes idle sessions. It only publishes envelopes into the
// sessions' ordered partitions (deduplicated by id, so several replicas
// sweeping at once do the work once); the partitions make the changes.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	lastIdle := time.Now()
	presence := &presenceState{missingSince: map[string]time.Time{}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.sweepPermissions(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("permission sweep failed", "err", err)
		}
		if err := s.sweepPresence(ctx, presence); err != nil && ctx.Err() == nil {
			s.log.Debug("presence sweep failed", "err", err)
		}
		if s.cfg.SessionIdle > 0 && time.Since(lastIdle) >= max(s.cfg.SweepInterval, s.cfg.SessionIdle/20) {
			lastIdle = time.Now()
			if err := s.sweepIdle(ctx); err != nil && ctx.Err() == nil {
				s.log.Debug("idle sweep failed", "err", err)
			}
		}
	}
}

func (s *Service) sweepPermissions(ctx context.Context) error {
	expired, err := s.cat.ExpiredPermissions(ctx, s.clock.Now())
	if err != nil {
		return err
	}
	for _, e := range expired {
		env := &syv1.Envelope{Id: "timeout." + e.Request, Type: kind.PermissionTimeout, SessionId: e.Session, Ts: clock.Stamp(s.clock.Now()),
			Body: &syv1.Envelope_PermissionRequest{PermissionRequest: &syv1.PermissionRequest{SessionId: e.Session, RequestId: e.Request}}}
		if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, e.Session), env); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) sweepIdle(ctx context.Context) error {
	all, err := s.cat.Sessions(ctx)
	if err != nil {
		return err
	}
	for _, info := range all {
		if !s.idle(info) {
			continue
		}
		env := &syv1.Envelope{Id: "idle." + info.GetLastActivity(), Type: kind.SessionIdle, SessionId: info.GetId(), Ts: clock.Stamp(s.clock.Now()),
			Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: info.GetId(), Reason: "idle"}}}
		if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, info.GetId()), env); err != nil {
			return err
		}
	}
	return nil
}

// idle: an active session with no turn running and no activity for
// SY_SESSION_IDLE.
func (s *Service) idle(info *syv1.SessionInfo) bool {
	if s.cfg.SessionIdle <= 0 || info.GetStatus() != catalog.StatusActive || info.GetTurnMessageId() != "" {
		return false
	}
	last, err := time.Parse(time.RFC3339Nano, info.GetLastActivity())
	return err == nil && s.clock.Now().Sub(last) > s.cfg.SessionIdle
}

// sessionIdle closes a session the sweeper found idle, if it still is:
// session.close{reason:"idle"} to the runtime, session.closed to clients.
func (s *Service) sessionIdle(ctx context.Context, env *syv1.Envelope) error {
	info, _, err := s.cat.Session(ctx, env.GetSessionId())
	if errors.Is(err, catalog.ErrNotFound) || (err == nil && !s.idle(info)) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.closeSession(ctx, env.GetId(), info.GetId(), "idle", env.GetTs()); err != nil {
		return err
	}
	return s.toRuntime(ctx, info, &syv1.Envelope{Id: env.GetId(), Type: kind.SessionClose, Ts: env.GetTs(),
		Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: info.GetId(), Reason: "idle"}}})
}

// runtimeStatus handles a runtime's socket coming or going. The gateway
// announces it once per runtime; it is fanned out here into one envelope
// per active session of that runtime, each handled in its session's
// partition: the record says whether the runtime is reachable, a running
// turn ends if it went away, and subscribers get a runtime.status frame.
func (s *Service) runtimeStatus(ctx context.Context, env *syv1.Envelope) error {
	st := env.GetRuntimeStatus()
	if env.GetSessionId() == "" {
		return s.fanRuntimeStatus(ctx, env, st)
	}
	if stale, err := s.sweptStale(ctx, env); stale || err != nil {
		return err
	}
	changed := false
	info, err := s.cat.UpdateSession(ctx, env.GetSessionId(), func(si *syv1.SessionInfo) bool {
		if si.GetStatus() == catalog.StatusClosed || si.GetRuntimeOffline() == !st.GetOnline() {
			return false
		}
		changed = true
		si.RuntimeOffline = !st.GetOnline()
		if !st.GetOnline() {
			endTurn(si)
		}
		return true
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil || !changed {
		return err
	}
	if err := s.appendTranscript(ctx, env); err != nil {
		return err
	}
	return s.nextQueued(ctx, env.GetId(), info) // a runtime back online runs what was queued
}

func (s *Service) fanRuntimeStatus(ctx context.Context, env *syv1.Envelope, st *syv1.RuntimeStatus) error {
	all, err := s.cat.Sessions(ctx)
	if err != nil {
		return err
	}
	for _, info := range all {
		if info.GetRuntimeId() != st.GetRuntimeId() || info.GetStatus() == catalog.StatusClosed {
			continue
		}
		one := &syv1.Envelope{Id: env.GetId() + "." + info.GetId(), Type: kind.RuntimeStatus, SessionId: info.GetId(), Ts: env.GetTs(),
			RuntimeId: st.GetRuntimeId(), Body: env.GetBody()}
		if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, info.GetId()), one); err != nil {
			return err
		}
	}
	return nil
}
