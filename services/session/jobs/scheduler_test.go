package jobs

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Two replicas race for every tick of a 1-second job: over 5 ticks each
// runs exactly once and is notified exactly once, and no tick is skipped.
func TestTwoReplicasRunEachTickOnce(t *testing.T) {
	url := testenv.NATS(t).URL()
	rc := newRecorder()
	a := startReplica(t, url, "replica-a", rc.runner("replica-a", quick), testConfig(), nil)
	b := startReplica(t, url, "replica-b", rc.runner("replica-b", quick), testConfig(), nil)
	notes := notifications(t, url)
	createJob(t, a.bus, "every-second", "@every 1s")

	const ticks = 5
	got := map[string]int{}
	var first, last time.Time
	for len(got) < ticks {
		n := next(t, notes, "every-second", 10*time.Second)
		key := tickKey("every-second", n)
		got[key]++
		tick, _ := time.Parse(time.RFC3339Nano, n.GetTick())
		if first.IsZero() || tick.Before(first) {
			first = tick
		}
		if tick.After(last) {
			last = tick
		}
		if !n.GetSuccess() || n.GetSessionId() == "" || n.GetResultPreview() != "done "+key || n.GetOwner() != "alice" {
			t.Errorf("notification %s: %+v", key, n)
		}
	}
	deleteJob(t, a.bus, "every-second")
	// Stop both: every run they started has ended (or was handed over) when
	// Stop returns, so the counts below are final for these ticks.
	a.stop()
	b.stop()
	for len(notes) > 0 {
		if n := (<-notes).GetJobNotification(); n.GetJobName() == "every-second" {
			got[tickKey("every-second", n)]++
		}
	}
	for key, c := range got {
		if c != 1 {
			t.Errorf("tick %s notified %d times", key, c)
		}
		if runs := rc.count(key); runs != 1 {
			t.Errorf("tick %s ran %d times", key, runs)
		}
	}
	for key, c := range rc.keys() {
		if c > 1 {
			t.Errorf("tick %s started %d times without any replica failing", key, c)
		}
	}
	if span := last.Sub(first); span != time.Duration(len(got)-1)*time.Second {
		t.Errorf("%d notified ticks span %s: a tick was skipped", len(got), span)
	}
	rec := runRecord(t, a.bus, RunKey("every-second", first))
	if rec.GetState() != StateDone || !rec.GetNotified() || rec.GetAttempt() != 1 {
		t.Errorf("run record of %s: %+v", first, rec)
	}
}

// The replica that claimed a tick dies before finishing it: after the lease
// the survivor takes the tick over and it completes (and is notified)
// exactly once.
func TestClaimerKilledMidRun(t *testing.T) {
	url := testenv.NATS(t).URL()
	rc := newRecorder()
	var blocked atomic.Bool
	started := make(chan call, 1)
	behave := func(ctx context.Context, c call) (string, string, error) {
		if blocked.CompareAndSwap(false, true) {
			started <- c
			<-ctx.Done() // the replica dies while the turn runs
			return "", "", ctx.Err()
		}
		return quick(ctx, c)
	}
	reps := map[string]*replica{}
	for _, name := range []string{"replica-a", "replica-b"} {
		reps[name] = startReplica(t, url, name, rc.runner(name, behave), testConfig(), nil)
	}
	notes := notifications(t, url)
	createJob(t, reps["replica-a"].bus, "mid-run", "@every 1s")

	var victim call
	select {
	case victim = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick started")
	}
	reps[victim.replica].crash()
	survivor := "replica-a"
	if victim.replica == survivor {
		survivor = "replica-b"
	}

	var n = next(t, notes, "mid-run", 10*time.Second)
	for tickKey("mid-run", n) != victim.info.Key {
		n = next(t, notes, "mid-run", 10*time.Second)
	}
	if !n.GetSuccess() || n.GetSessionId() != "sess-"+victim.info.Key+"-2" {
		t.Errorf("taken-over tick: %+v", n)
	}
	deleteJob(t, reps[survivor].bus, "mid-run")
	reps[survivor].stop()
	for len(notes) > 0 {
		if m := (<-notes).GetJobNotification(); tickKey("mid-run", m) == victim.info.Key {
			t.Errorf("tick %s notified twice", victim.info.Key)
		}
	}
	rc.mu.Lock()
	calls := rc.calls[victim.info.Key]
	rc.mu.Unlock()
	if len(calls) != 2 || calls[0].replica != victim.replica || calls[1].replica != survivor || calls[1].info.Attempt != 2 {
		t.Errorf("calls for the killed tick: %+v (want the victim's, then the survivor's attempt 2)", calls)
	}
	rec := runRecord(t, reps[survivor].bus, victim.info.Key)
	if rec.GetState() != StateDone || rec.GetReplica() != survivor || rec.GetAttempt() != 2 || !rec.GetNotified() {
		t.Errorf("run record: %+v", rec)
	}
}

// One replica is killed between two ticks: the other runs every later
// tick, none is lost.
func TestReplicaKilledNoTickLost(t *testing.T) {
	url := testenv.NATS(t).URL()
	rc := newRecorder()
	a := startReplica(t, url, "replica-a", rc.runner("replica-a", quick), testConfig(), nil)
	b := startReplica(t, url, "replica-b", rc.runner("replica-b", quick), testConfig(), nil)
	notes := notifications(t, url)
	createJob(t, a.bus, "survive", "@every 1s")

	n := next(t, notes, "survive", 10*time.Second)
	killedAfter, _ := time.Parse(time.RFC3339Nano, n.GetTick())
	a.crash() // right after a tick, before the next one

	seen := map[time.Time]int{killedAfter: 1}
	want := killedAfter.Add(4 * time.Second)
	for {
		n := next(t, notes, "survive", 10*time.Second)
		tick, _ := time.Parse(time.RFC3339Nano, n.GetTick())
		seen[tick]++
		if !n.GetSuccess() {
			t.Errorf("tick %s failed: %+v", tick, n)
		}
		complete := true
		for tk := killedAfter; !tk.After(want); tk = tk.Add(time.Second) {
			complete = complete && seen[tk] > 0
		}
		if complete {
			break
		}
		if tick.After(want.Add(5 * time.Second)) {
			t.Fatalf("ticks after the kill are missing: saw %v", seen)
		}
	}
	deleteJob(t, b.bus, "survive")
	b.stop()
	for tk, c := range seen {
		// The tick notified just before the kill may be notified again by
		// the survivor (same envelope id) if the victim died between the
		// publish and marking the record notified: at least once.
		if c != 1 && (tk != killedAfter || c > 2) {
			t.Errorf("tick %s notified %d times", tk, c)
		}
		if tk.After(killedAfter) {
			rc.mu.Lock()
			calls := rc.calls[RunKey("survive", tk)]
			rc.mu.Unlock()
			if len(calls) != 1 || calls[0].replica != "replica-b" {
				t.Errorf("tick %s after the kill: calls %+v", tk, calls)
			}
		}
	}
}

// A graceful stop hands an unfinished run over at once (no lease wait).
func TestGracefulStopHandsRunOver(t *testing.T) {
	url := testenv.NATS(t).URL()
	rc := newRecorder()
	var blocked atomic.Bool
	started := make(chan call, 1)
	behave := func(ctx context.Context, c call) (string, string, error) {
		if blocked.CompareAndSwap(false, true) {
			started <- c
			<-ctx.Done()
			return "", "", ctx.Err()
		}
		return quick(ctx, c)
	}
	cfg := testConfig()
	cfg.Lease = time.Minute // a takeover only through the hand-over
	cfg.RunRecordTTL = 10 * time.Minute
	reps := map[string]*replica{}
	for _, name := range []string{"replica-a", "replica-b"} {
		reps[name] = startReplica(t, url, name, rc.runner(name, behave), cfg, nil)
	}
	notes := notifications(t, url)
	createJob(t, reps["replica-a"].bus, "handover", "@every 1s")
	victim := <-started
	reps[victim.replica].stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case env := <-notes:
			n := env.GetJobNotification()
			if tickKey("handover", n) != victim.info.Key {
				continue
			}
			if !n.GetSuccess() || rc.count(victim.info.Key) != 2 {
				t.Errorf("handed-over tick: %+v, %d calls", n, rc.count(victim.info.Key))
			}
			return
		case <-deadline:
			t.Fatalf("the tick %s a stopping replica handed over did not complete", victim.info.Key)
		}
	}
}

// Notifications: the preview is cut to 500 characters on a rune boundary;
// failures have success:false, no session id and a coded reason.
func TestNotificationContent(t *testing.T) {
	url := testenv.NATS(t).URL()
	long := strings.Repeat("ü", 700)
	cases := []struct {
		name    string
		behave  func(context.Context, call) (string, string, error)
		success bool
		code    string
		preview func(string) bool
	}{
		{"long", func(context.Context, call) (string, string, error) { return "sess-1", long, nil }, true, "",
			func(p string) bool { return p == long[:1000] && utf8.RuneCountInString(p) == 500 }},
		{"offline", func(context.Context, call) (string, string, error) {
			return "sess-x", "partial", &codedErr{errcode.RuntimeOffline, "no runtime online for ep-1"}
		}, false, errcode.RuntimeOffline, func(p string) bool { return strings.Contains(p, "no runtime online") }},
		{"plain-error", func(context.Context, call) (string, string, error) { return "", "", errors.New("turn error: boom") }, false, errcode.RuntimeError,
			func(p string) bool { return strings.Contains(p, "boom") }},
		{"timeout", func(ctx context.Context, _ call) (string, string, error) { <-ctx.Done(); return "", "", ctx.Err() }, false, errcode.RuntimeTimeout,
			func(string) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RunTimeout = 300 * time.Millisecond
			rc := newRecorder()
			r := startReplica(t, url, "replica-"+c.name, rc.runner("r", c.behave), cfg, nil)
			notes := notifications(t, url)
			createJob(t, r.bus, "n-"+c.name, "@every 1s")
			n := next(t, notes, "n-"+c.name, 10*time.Second)
			deleteJob(t, r.bus, "n-"+c.name)
			r.stop()
			if n.GetSuccess() != c.success || n.GetError().GetCode() != c.code || !c.preview(n.GetResultPreview()) {
				t.Errorf("notification: success %v code %q preview %.80q", n.GetSuccess(), n.GetError().GetCode(), n.GetResultPreview())
			}
			if !c.success && n.GetSessionId() != "" {
				t.Errorf("failed run has session id %q", n.GetSessionId())
			}
			if c.success && n.GetSessionId() != "sess-1" {
				t.Errorf("session id %q", n.GetSessionId())
			}
		})
	}
}

type codedErr struct{ code, msg string }

func (e *codedErr) Error() string { return e.msg }
func (e *codedErr) Code() string  { return e.code }

// Every replica was down for ten ticks: on start the most recent missed
// tick runs once (within SY_JOB_CATCH_UP), the older ones never; with
// catch-up 0 none does. The replica's clock is moved ahead to skip time.
func TestMissedTicksWhileAllDown(t *testing.T) {
	for _, c := range []struct {
		name    string
		catchUp time.Duration
	}{{"catch-up", time.Minute}, {"skip", 0}} {
		t.Run(c.name, func(t *testing.T) {
			url := testenv.NATS(t).URL()
			rc := newRecorder()
			creator := startReplica(t, url, "creator", rc.runner("creator", quick), testConfig(), nil)
			creator.cancel() // stops scheduling; its connection still serves the client calls below
			<-creator.done
			creator.done <- nil
			j := createJobDirect(t, creator, "missed", "@every 1s")
			created, _ := time.Parse(time.RFC3339Nano, j.GetCreated())

			const skipped = 10*time.Second + 500*time.Millisecond
			clock := func() time.Time { return time.Now().Add(skipped) }
			cfg := testConfig()
			cfg.CatchUp = c.catchUp
			cfg.RunRecordTTL = 5 * time.Minute
			start := clock()
			startReplica(t, url, "late", rc.runner("late", quick), cfg, clock)
			first := <-rc.seen
			if first.info.Tick.Before(start.Add(-time.Second)) {
				t.Errorf("ran tick %s, older than the most recent before the start %s", first.info.Tick, start)
			}
			if c.catchUp == 0 && !first.info.Tick.After(start) {
				t.Errorf("catch-up 0 ran missed tick %s (start %s)", first.info.Tick, start)
			}
			if c.catchUp > 0 && first.info.Tick.After(start.Add(time.Second)) {
				t.Errorf("the most recent missed tick did not run; first run %s, start %s", first.info.Tick, start)
			}
			for key := range rc.keys() {
				for tk := created.Truncate(time.Second).Add(time.Second); tk.Before(start.Add(-time.Second)); tk = tk.Add(time.Second) {
					if key == RunKey("missed", tk) {
						t.Errorf("missed tick %s ran", tk)
					}
				}
			}
		})
	}
}

// createJobDirect writes a job through the store of a stopped replica
// (no scheduler consumes the request subjects then).
func createJobDirect(t *testing.T, r *replica, name, schedule string) *syv1.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := r.sched.store.create(ctx, &syv1.Job{Name: name, Schedule: schedule, EndpointId: "ep-1", Prompt: "p", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return j
}
