package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// testConfig has a short lease so takeovers happen within a test.
func testConfig() Config {
	return Config{RunTimeout: 10 * time.Second, Lease: time.Second, CatchUp: 5 * time.Second, MaxAttempts: 3, RunRecordTTL: time.Minute}
}

// replica is one "session replica": its own NATS connection and Scheduler.
type replica struct {
	name   string
	bus    *bus.Bus
	sched  *Scheduler
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, url, name string, r Runner, cfg Config, now func() time.Time) *replica {
	t.Helper()
	b := testenv.Bus(t, url, name)
	s, err := New(b, r, cfg, Options{Replica: name, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{name: name, bus: b, sched: s, cancel: cancel, done: make(chan error, 1)}
	go func() { rep.done <- s.Run(ctx) }()
	t.Cleanup(rep.stop)
	waitServing(t, b)
	return rep
}

// waitServing waits until this replica answers the jobs API (its buckets
// exist and its subscriptions are live).
func waitServing(t *testing.T, b *bus.Bus) {
	t.Helper()
	c := NewClient(b)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.List(ctx, "")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs API not served: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting goroutine: no event to wait on
	}
}

// stop is a graceful stop: unfinished runs are handed over.
func (r *replica) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

// crash cuts the replica off NATS first, so it cannot write anything more
// (like a killed pod), then stops its goroutines.
func (r *replica) crash() {
	r.bus.NC.Close()
	r.stop()
}

// call is one RunTurn invocation seen by a test runner.
type call struct {
	replica string
	info    RunInfo
}

// recorder counts RunTurn calls per run key across replicas.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]call
	seen  chan call
}

func newRecorder() *recorder {
	return &recorder{calls: map[string][]call{}, seen: make(chan call, 1024)}
}

// runner returns a Runner for one replica; behave decides the outcome.
func (rc *recorder) runner(replica string, behave func(ctx context.Context, c call) (string, string, error)) Runner {
	return RunnerFunc(func(ctx context.Context, endpointID, owner, prompt string) (string, string, error) {
		info, ok := RunFromContext(ctx)
		if !ok {
			return "", "", fmt.Errorf("no RunInfo in the runner's context")
		}
		c := call{replica: replica, info: info}
		rc.mu.Lock()
		rc.calls[info.Key] = append(rc.calls[info.Key], c)
		rc.mu.Unlock()
		rc.seen <- c
		return behave(ctx, c)
	})
}

func (rc *recorder) count(key string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.calls[key])
}

func (rc *recorder) keys() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.calls {
		out[k] = len(v)
	}
	return out
}

// quick succeeds at once with a session per attempt.
func quick(_ context.Context, c call) (string, string, error) {
	return fmt.Sprintf("sess-%s-%d", c.info.Key, c.info.Attempt), "done " + c.info.Key, nil
}

// notifications subscribes to sy.job.notification on its own connection.
func notifications(t *testing.T, url string) <-chan *syv1.Envelope {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan *syv1.Envelope, 1024)
	if _, err := nc.Subscribe(bus.SubjJobNotification(), func(m *nats.Msg) {
		env := &syv1.Envelope{}
		if err := proto.Unmarshal(m.Data, env); err != nil {
			t.Errorf("undecodable notification: %v", err)
			return
		}
		ch <- env
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// next waits for the next notification of job.
func next(t *testing.T, ch <-chan *syv1.Envelope, job string, limit time.Duration) *syv1.JobNotification {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case env := <-ch:
			if n := env.GetJobNotification(); n.GetJobName() == job {
				if env.GetType() != TypeNotification || env.GetUserId() != n.GetOwner() {
					t.Errorf("notification envelope: type %q user %q, owner %q", env.GetType(), env.GetUserId(), n.GetOwner())
				}
				return n
			}
		case <-timeout:
			t.Fatalf("no notification of %s within %s", job, limit)
		}
	}
}

func createJob(t *testing.T, b *bus.Bus, name, schedule string) *syv1.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := NewClient(b).Create(ctx, &syv1.Job{Name: name, Schedule: schedule, EndpointId: "ep-1", Prompt: "summarize", Owner: "alice"})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return j
}

func deleteJob(t *testing.T, b *bus.Bus, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := NewClient(b).Delete(ctx, name); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// runRecord reads a run record.
func runRecord(t *testing.T, b *bus.Bus, key string) *syv1.JobRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := b.KV(ctx, bus.BucketJobRuns())
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatalf("run record %s: %v", key, err)
	}
	rec := &syv1.JobRun{}
	if err := proto.Unmarshal(e.Value(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func tickKey(job string, n *syv1.JobNotification) string {
	tick, err := time.Parse(time.RFC3339Nano, n.GetTick())
	if err != nil {
		panic(err)
	}
	return RunKey(job, tick)
}
