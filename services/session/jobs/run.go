package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// claim races for one tick: KV create of its run record. Losing the race
// (the record exists) is not an error: another replica owns the tick.
func (s *Scheduler) claim(ctx context.Context, job *syv1.Job, tick, now time.Time) error {
	key := RunKey(job.GetName(), tick)
	rec := &syv1.JobRun{
		Job: job, Tick: formatTime(tick), State: StateClaimed, Replica: s.replica,
		LeaseUntil: formatTime(now.Add(s.cfg.Lease)), Attempt: 1, Started: formatTime(now),
	}
	data, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("jobs: marshal run: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	rev, err := s.runs.Create(cctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jobs: claim %s: %w", key, err)
	}
	s.log.Info("jobs: tick claimed", "run", key, "replica", s.replica)
	s.start(key, rec, rev, s.execute)
	return nil
}

// start marks key as this replica's and runs f in a goroutine.
func (s *Scheduler) start(key string, rec *syv1.JobRun, rev uint64, f func(string, *syv1.JobRun, uint64)) {
	s.mu.Lock()
	s.running[key] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, key)
			s.mu.Unlock()
		}()
		f(key, rec, rev)
	}()
}

// takeOver CASes a run record whose lease expired: a claimed tick runs
// again here (or fails as abandoned after MaxAttempts), a finished one
// whose notification was not confirmed is published again.
func (s *Scheduler) takeOver(ctx context.Context, key string, o *openRun, now time.Time) {
	rec := proto.Clone(o.rec).(*syv1.JobRun)
	rec.Replica = s.replica
	rec.LeaseUntil = formatTime(now.Add(s.cfg.Lease))
	next := s.notify
	switch {
	case rec.GetState() != StateClaimed:
	case int(rec.GetAttempt()) >= s.cfg.MaxAttempts:
		rec.State, rec.Finished = StateFailed, formatTime(now)
		rec.Error = &syv1.JobError{Code: CodeRunAbandoned, Message: fmt.Sprintf("%d replicas stopped while running this tick", rec.GetAttempt())}
		rec.ResultPreview = Preview(rec.Error.GetMessage())
	default:
		rec.Attempt++
		rec.Started = formatTime(now)
		next = s.execute
	}
	rev, err := s.write(ctx, key, rec, o.rev)
	if err != nil {
		// Lost the race (the watch brings the winner's record) or NATS is
		// unreachable: look again shortly.
		o.retryAt = now.Add(retryDelay)
		if !isCASConflict(err) {
			s.log.Warn("jobs: takeover failed", "run", key, "err", err)
		}
		return
	}
	s.log.Info("jobs: stale run taken over", "run", key, "state", rec.GetState(), "attempt", rec.GetAttempt(), "previous", o.rec.GetReplica())
	o.rec, o.rev = rec, rev
	s.start(key, rec, rev, next)
}

// execute runs the turn of a claimed tick while renewing the lease, then
// records the result and notifies.
func (s *Scheduler) execute(key string, rec *syv1.JobRun, rev uint64) {
	runCtx, cancelRun := context.WithCancel(s.runCtx)
	defer cancelRun()
	hbCtx, stopHB := context.WithCancel(runCtx)
	hb := make(chan heartbeatResult, 1)
	go func() { hb <- s.heartbeat(hbCtx, cancelRun, key, rec, rev) }()

	info := RunInfo{Job: rec.GetJob().GetName(), Tick: parseTime(rec.GetTick()), Attempt: int(rec.GetAttempt()), Key: key}
	turnCtx, cancelTurn := context.WithTimeout(context.WithValue(runCtx, runInfoKey{}, info), s.cfg.RunTimeout)
	job := rec.GetJob()
	sessionID, text, runErr := s.runner.RunTurn(turnCtx, job.GetEndpointId(), job.GetOwner(), job.GetPrompt())
	turnErr := turnCtx.Err()
	cancelTurn()
	stopHB()
	h := <-hb
	if h.lost {
		s.log.Warn("jobs: lease lost while running; another replica owns the tick", "run", key)
		return
	}
	rec, rev = h.rec, h.rev
	wctx, cancel := context.WithTimeout(context.WithoutCancel(s.runCtx), opTimeout)
	defer cancel()
	if runErr != nil && s.runCtx.Err() != nil {
		// This replica is stopping: hand the tick over (expired lease).
		rec.LeaseUntil = formatTime(s.now())
		if _, err := s.write(wctx, key, rec, rev); err != nil {
			s.log.Warn("jobs: could not hand over run; it is taken over when its lease expires", "run", key, "err", err)
		}
		return
	}
	now := s.now()
	rec.Finished = formatTime(now)
	rec.LeaseUntil = formatTime(now.Add(s.cfg.Lease))
	if runErr == nil {
		rec.State, rec.SessionId, rec.ResultPreview = StateDone, sessionID, Preview(text)
	} else {
		code := codeOf(runErr)
		if errors.Is(turnErr, context.DeadlineExceeded) {
			code = errcode.RuntimeTimeout
		}
		rec.State, rec.SessionId = StateFailed, ""
		rec.Error = &syv1.JobError{Code: code, Message: runErr.Error()}
		rec.ResultPreview = Preview(runErr.Error())
	}
	rev, err := s.write(wctx, key, rec, rev)
	switch {
	case isCASConflict(err):
		s.log.Warn("jobs: lease lost before the result was recorded; another replica owns the tick", "run", key)
	case err != nil:
		s.log.Warn("jobs: could not record the result; the tick is run again after its lease", "run", key, "err", err)
	default:
		s.notify(key, rec, rev)
	}
}

type heartbeatResult struct {
	rec  *syv1.JobRun
	rev  uint64
	lost bool
}

// heartbeat renews the lease every Lease/3 until ctx ends. A lost CAS
// means another replica took the tick over: the run is cancelled.
func (s *Scheduler) heartbeat(ctx context.Context, cancelRun context.CancelFunc, key string, rec *syv1.JobRun, rev uint64) heartbeatResult {
	t := time.NewTicker(s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return heartbeatResult{rec: rec, rev: rev}
		case <-t.C:
		}
		next := proto.Clone(rec).(*syv1.JobRun)
		next.LeaseUntil = formatTime(s.now().Add(s.cfg.Lease))
		// Not cancelled with ctx: a renewal whose outcome is unknown would
		// leave this replica with a stale revision.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Lease/3)
		nrev, err := s.write(uctx, key, next, rev)
		cancel()
		switch {
		case err == nil:
			rec, rev = next, nrev
		case isCASConflict(err):
			cancelRun()
			return heartbeatResult{lost: true}
		case ctx.Err() == nil:
			s.log.Warn("jobs: lease renewal failed", "run", key, "err", err)
		}
	}
}

// notify publishes the run's notification, then marks the record
// notified. A replica that dies in between leaves the record un-notified:
// after its lease another replica publishes again (at least once).
func (s *Scheduler) notify(key string, rec *syv1.JobRun, rev uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.runCtx), opTimeout)
	defer cancel()
	job := rec.GetJob()
	n := &syv1.JobNotification{
		JobName: job.GetName(), SessionId: rec.GetSessionId(), ResultPreview: rec.GetResultPreview(),
		Success: rec.GetState() == StateDone, Owner: job.GetOwner(), Tick: rec.GetTick(), Error: rec.GetError(),
	}
	env := &syv1.Envelope{
		Id: "job-" + key, Type: TypeNotification, SessionId: rec.GetSessionId(), Ts: formatTime(s.now()),
		UserId: job.GetOwner(), EndpointId: job.GetEndpointId(),
		Body: &syv1.Envelope_JobNotification{JobNotification: n},
	}
	if err := s.bus.Send(ctx, bus.SubjJobNotification(), env); err != nil {
		s.log.Warn("jobs: notification not published; retried after the lease", "run", key, "err", err)
		return
	}
	if err := s.pushNotification(ctx, key, n); err != nil {
		s.log.Warn("jobs: push notification not published; retried after the lease", "run", key, "err", err)
		return
	}
	if err := s.bus.NC.FlushWithContext(ctx); err != nil {
		s.log.Warn("jobs: notification not flushed; retried after the lease", "run", key, "err", err)
		return
	}
	rec = proto.Clone(rec).(*syv1.JobRun)
	rec.Notified = true
	if _, err := s.write(ctx, key, rec, rev); err != nil {
		s.log.Warn("jobs: could not mark the run notified (it may be notified twice)", "run", key, "err", err)
		return
	}
	s.log.Info("jobs: run finished", "run", key, "state", rec.GetState(), "session", rec.GetSessionId())
}

func (s *Scheduler) update(ctx context.Context, key string, rec *syv1.JobRun, rev uint64) (uint64, error) {
	data, err := proto.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("jobs: marshal run: %w", err)
	}
	return s.runs.Update(ctx, key, data, rev)
}

// write stores next over revision rev. If the revision moved but the
// record is still this attempt's (an earlier write whose answer was lost
// did land), it writes over the current revision; otherwise the CAS
// conflict is returned: another replica owns the record.
func (s *Scheduler) write(ctx context.Context, key string, next *syv1.JobRun, rev uint64) (uint64, error) {
	nrev, err := s.update(ctx, key, next, rev)
	if err == nil || !isCASConflict(err) {
		return nrev, err
	}
	e, gerr := s.runs.Get(ctx, key)
	if gerr != nil {
		return 0, err
	}
	cur := &syv1.JobRun{}
	if uerr := proto.Unmarshal(e.Value(), cur); uerr != nil || !sameAttempt(cur, next) {
		return 0, err
	}
	return s.update(ctx, key, next, e.Revision())
}

// sameAttempt reports whether two versions of a run record belong to the
// same replica's same attempt.
func sameAttempt(a, b *syv1.JobRun) bool {
	return a.GetReplica() == b.GetReplica() && a.GetAttempt() == b.GetAttempt() && a.GetStarted() == b.GetStarted()
}
