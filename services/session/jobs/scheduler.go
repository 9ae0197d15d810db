package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Run states of a JobRun.
const (
	StateClaimed = "claimed"
	StateDone    = "done"
	StateFailed  = "failed"
)

const (
	// maxBurst bounds the ticks of one job a replica claims in one
	// evaluation (after a stall or a NATS outage).
	maxBurst = 10
	// opTimeout bounds one KV operation of the scheduler.
	opTimeout = 5 * time.Second
	// retryDelay is the pause after a KV operation failed.
	retryDelay = time.Second
	// idleWake is the longest the scheduler sleeps without re-evaluating.
	idleWake = time.Minute
)

// Options of a Scheduler beside its Config.
type Options struct {
	// Replica names this replica in run records and logs (the pod name).
	Replica string
	// StreamReplicas is the JetStream replica count of the buckets.
	StreamReplicas int
	Log            *slog.Logger
	// Now is the clock (default time.Now). Tick times, leases and the
	// catch-up window are computed from it; timers wait real durations.
	Now func() time.Time
}

// Scheduler is one replica's share of the jobs engine: it serves the jobs
// API and races the other replicas for every tick of every job. Run it on
// every session replica.
type Scheduler struct {
	cfg     Config
	bus     *bus.Bus
	runner  Runner
	log     *slog.Logger
	now     func() time.Time
	replica string
	streams int

	store *store
	runs  jetstream.KeyValue

	// Owned by the Run loop.
	jobs      map[string]*jobState
	open      map[string]*openRun
	jobsReady bool
	runsReady bool
	timer     *time.Timer
	wakeAt    time.Time

	// runCtx is cancelled when Run stops; run goroutines derive from it.
	runCtx  context.Context
	stopRun context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[string]bool // run keys this replica works on (guarded by mu)
}

// jobState is what the loop knows of one job.
type jobState struct {
	job   *syv1.Job
	sched *Schedule
	// after: every tick up to here is decided (claimed by someone).
	after time.Time
	// fresh: not evaluated yet by this replica (start-up or a new job):
	// only the most recent due tick is claimed.
	fresh   bool
	retryAt time.Time
}

// openRun is a run record whose notification is not published yet.
type openRun struct {
	rec     *syv1.JobRun
	rev     uint64
	retryAt time.Time
}

// New prepares a Scheduler; Run starts it.
func New(b *bus.Bus, runner Runner, cfg Config, opt Options) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jobs: config: %w", err)
	}
	if runner == nil {
		return nil, errors.New("jobs: a Runner is required")
	}
	s := &Scheduler{
		cfg: cfg, bus: b, runner: runner, log: opt.Log, now: opt.Now, replica: opt.Replica, streams: opt.StreamReplicas,
		jobs: map[string]*jobState{}, open: map[string]*openRun{}, running: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.replica == "" {
		s.replica = b.NC.Opts.Name
	}
	return s, nil
}

// Run ensures the buckets, serves the jobs API and schedules until ctx
// ends. On return, runs this replica had not finished have been handed
// back (their lease set to expired, so another replica takes them over at
// once); close the bus only after Run returned.
func (s *Scheduler) Run(ctx context.Context) error {
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	jobsKV, runs, err := EnsureBuckets(ectx, s.bus, s.cfg, s.streams)
	cancel()
	if err != nil {
		return err
	}
	s.store = &store{kv: jobsKV, now: s.now}
	s.runs = runs
	s.runCtx, s.stopRun = context.WithCancel(context.WithoutCancel(ctx))
	defer s.wg.Wait()
	defer s.stopRun()

	subs, err := s.serve(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
	}()
	jw, err := jobsKV.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("jobs: watch %s: %w", bus.BucketJobs(), err)
	}
	defer func() { _ = jw.Stop() }()
	rw, err := runs.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("jobs: watch %s: %w", bus.BucketJobRuns(), err)
	}
	defer func() { _ = rw.Stop() }()
	return s.loop(ctx, jw, rw)
}

func (s *Scheduler) loop(ctx context.Context, jw, rw jetstream.KeyWatcher) error {
	s.timer = time.NewTimer(idleWake)
	defer s.timer.Stop()
	s.wakeAt = s.now().Add(idleWake)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-jw.Updates():
			if !ok {
				return s.watchEnded(ctx, bus.BucketJobs())
			}
			s.onJob(e)
			s.evaluate(ctx)
		case e, ok := <-rw.Updates():
			if !ok {
				return s.watchEnded(ctx, bus.BucketJobRuns())
			}
			if s.onRun(e) {
				s.evaluate(ctx)
			}
		case <-s.timer.C:
			s.wakeAt = time.Time{}
			s.evaluate(ctx)
		}
	}
}

func (s *Scheduler) watchEnded(ctx context.Context, bucket string) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("jobs: watch of %s ended", bucket)
}

// onJob applies a change of sy_jobs (nil: the initial values are in).
func (s *Scheduler) onJob(e jetstream.KeyValueEntry) {
	if e == nil {
		s.jobsReady = true
		return
	}
	name := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.jobs, name)
		return
	}
	j := &syv1.Job{}
	if err := proto.Unmarshal(e.Value(), j); err != nil {
		s.log.Error("jobs: undecodable job record", "job", name, "err", err)
		return
	}
	created, err := time.Parse(time.RFC3339Nano, j.GetCreated())
	if err != nil {
		s.log.Error("jobs: job record without a creation time", "job", name, "err", err)
		return
	}
	sched, err := ParseSchedule(j.GetSchedule(), created)
	if err != nil {
		s.log.Error("jobs: stored job has a bad schedule", "job", name, "err", err)
		return
	}
	if old, ok := s.jobs[name]; ok && old.job.GetCreated() == j.GetCreated() {
		old.job, old.sched = j, sched
		return
	}
	s.jobs[name] = &jobState{job: j, sched: sched, after: created, fresh: true}
}

// onRun applies a change of sy_job_runs (nil: the initial values are in)
// and reports whether to evaluate at once.
func (s *Scheduler) onRun(e jetstream.KeyValueEntry) bool {
	if e == nil {
		s.runsReady = true
		return true
	}
	key := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.open, key)
		return false
	}
	rec := &syv1.JobRun{}
	if err := proto.Unmarshal(e.Value(), rec); err != nil {
		s.log.Error("jobs: undecodable run record", "run", key, "err", err)
		return false
	}
	if rec.GetNotified() {
		delete(s.open, key)
		return false
	}
	s.open[key] = &openRun{rec: rec, rev: e.Revision()}
	if s.runsReady && !s.isRunning(key) {
		s.arm(parseTime(rec.GetLeaseUntil()))
	}
	return false
}

// evaluate claims due ticks and takes over stale runs, then sets the timer.
func (s *Scheduler) evaluate(ctx context.Context) {
	now := s.now()
	if s.jobsReady {
		for _, js := range s.jobs {
			s.evaluateJob(ctx, js, now)
		}
	}
	if s.runsReady {
		for key, o := range s.open {
			if !s.isRunning(key) && !now.Before(parseTime(o.rec.GetLeaseUntil())) && !now.Before(o.retryAt) {
				s.takeOver(ctx, key, o, now)
			}
		}
	}
	s.arm(s.nextWake(now))
}

// window is how old a tick may be and still be claimed by a running
// replica (one that was stalled or cut off from NATS).
func (s *Scheduler) window() time.Duration { return max(s.cfg.CatchUp, s.cfg.Lease) }

func (s *Scheduler) evaluateJob(ctx context.Context, js *jobState, now time.Time) {
	if now.Before(js.retryAt) {
		return
	}
	after := js.after
	if js.fresh {
		// Start-up or a new job: at most the most recent tick no older
		// than the catch-up window (ticks missed while every replica was
		// down run once, or not at all when CatchUp is 0).
		if floor := now.Add(-s.cfg.CatchUp); after.Before(floor) {
			after = floor
		}
	} else if floor := now.Add(-s.window()); after.Before(floor) {
		after = floor
	}
	for _, tick := range dueTicks(js.sched, after, now, js.fresh, maxBurst) {
		if err := s.claim(ctx, js.job, tick, now); err != nil {
			s.log.Warn("jobs: claim failed; retrying", "job", js.job.GetName(), "tick", tick, "err", err)
			js.retryAt = now.Add(retryDelay)
			return
		}
		after = tick
	}
	if after.Before(now) {
		after = now
	}
	js.after, js.fresh = after, false
}

// nextWake is the earliest moment something may be due.
func (s *Scheduler) nextWake(now time.Time) time.Time {
	next := now.Add(idleWake)
	earlier := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	// Nothing is evaluated before a watch has delivered its initial
	// values, so nothing of it is due before then either.
	for _, js := range s.jobs {
		if !s.jobsReady {
			break
		}
		if now.Before(js.retryAt) {
			earlier(js.retryAt)
			continue
		}
		earlier(js.sched.Next(js.after))
	}
	for key, o := range s.open {
		if !s.runsReady {
			break
		}
		if s.isRunning(key) {
			continue
		}
		lease := parseTime(o.rec.GetLeaseUntil())
		if lease.Before(o.retryAt) {
			lease = o.retryAt
		}
		earlier(lease)
	}
	return next
}

// arm makes the timer fire at t unless it fires earlier already.
func (s *Scheduler) arm(t time.Time) {
	if t.IsZero() || (!s.wakeAt.IsZero() && !t.Before(s.wakeAt)) {
		return
	}
	s.timer.Stop()
	select {
	case <-s.timer.C:
	default:
	}
	s.wakeAt = t
	s.timer.Reset(max(t.Sub(s.now()), 0))
}

func (s *Scheduler) isRunning(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[key]
}

// RunKey is the sy_job_runs key of one tick of a job.
func RunKey(job string, tick time.Time) string {
	return fmt.Sprintf("%s.%d", job, tick.Unix())
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
