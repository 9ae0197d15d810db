package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const jobAdminToken = "ops-secret"

// jobTurn is a user.message a job sent to the test's runtime.
type jobTurn struct {
	session, messageID string
	key                string // <job>.<tick unix>
	attempt            int
}

// parseJobMessage reads the run key and attempt out of a job's message id
// (job-<job>.<tick unix>-<attempt>, services/session/sessions/jobrunner.go).
func parseJobMessage(id string) (string, int, bool) {
	rest, ok := strings.CutPrefix(id, "job-")
	i := strings.LastIndex(rest, "-")
	if !ok || i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	return rest[:i], n, err == nil
}

// jobRuntime answers session.create and user.message of jobs on rt in the
// background, except the turns hold picks: those wait for release.
type jobRuntime struct {
	rt    *peer
	hold  func(jobTurn) bool
	turns chan jobTurn
	mu    sync.Mutex
	made  map[string]bool
	byKey map[string][]jobTurn
}

func serveJobs(t *testing.T, rt *peer, hold func(jobTurn) bool) *jobRuntime {
	j := &jobRuntime{rt: rt, hold: hold, turns: make(chan jobTurn, 256), made: map[string]bool{}, byKey: map[string][]jobTurn{}}
	go func() {
		for m := range rt.Frames {
			p := payload(m)
			sid, _ := p["session_id"].(string)
			var err error
			switch m["type"] {
			case "session.create":
				j.mu.Lock()
				j.made[sid] = true
				j.mu.Unlock()
				err = rt.Send(map[string]any{"type": "session.created", "session_id": sid, "payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
			case "user.message":
				mid, _ := p["message_id"].(string)
				key, attempt, ok := parseJobMessage(mid)
				if !ok {
					t.Errorf("user.message id %q is not a job's", mid)
					continue
				}
				turn := jobTurn{session: sid, messageID: mid, key: key, attempt: attempt}
				j.mu.Lock()
				j.byKey[key] = append(j.byKey[key], turn)
				j.mu.Unlock()
				if !hold(turn) {
					err = j.answer(turn)
				}
				j.turns <- turn
			}
			if err != nil {
				t.Errorf("job runtime: %v", err)
				return
			}
		}
	}()
	return j
}

func (j *jobRuntime) answer(turn jobTurn) error {
	sid := turn.session
	if err := j.rt.Send(map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{
		"session_id": sid, "message_id": turn.messageID + "-out", "seq": 1, "channel": "stdout", "content": "ran " + turn.key, "final": true}}); err != nil {
		return err
	}
	return j.rt.Send(map[string]any{"type": "turn.completed", "session_id": sid, "payload": map[string]any{"session_id": sid, "in_response_to": turn.messageID, "exit_code": 0}})
}

func (j *jobRuntime) seen(key string) []jobTurn {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]jobTurn(nil), j.byKey[key]...)
}

func (j *jobRuntime) created(sid string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.made[sid]
}

// jobWatch follows the run records of one job (sy_job_runs) and its
// notifications (sy.job.notification) on one connection of the test's own.
type jobWatch struct {
	t     *testing.T
	job   string
	nc    *nats.Conn
	w     jetstream.KeyWatcher
	recs  map[string]*syv1.JobRun
	notes chan *syv1.JobNotification
	count map[string]int // notifications per run key
}

func watchJob(t *testing.T, natsAddr, job string) *jobWatch {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	jw := &jobWatch{t: t, job: job, nc: nc, recs: map[string]*syv1.JobRun{}, notes: make(chan *syv1.JobNotification, 256), count: map[string]int{}}
	if _, err := nc.Subscribe(bus.SubjJobNotification(), func(m *nats.Msg) {
		env := &syv1.Envelope{}
		if err := proto.Unmarshal(m.Data, env); err != nil {
			t.Errorf("undecodable notification: %v", err)
			return
		}
		if n := env.GetJobNotification(); n.GetJobName() == job {
			jw.notes <- n
		}
	}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var kv jetstream.KeyValue
	waitFor(t, "sy_job_runs bucket", func() bool { kv, err = js.KeyValue(ctx, bus.BucketJobRuns()); return err == nil })
	if jw.w, err = kv.Watch(context.Background(), job+".*"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jw.w.Stop() })
	return jw
}

// until takes run records and notifications until cond holds.
func (jw *jobWatch) until(what string, cond func() bool) {
	jw.t.Helper()
	deadline := time.After(3 * waitLimit)
	for !cond() {
		select {
		case e := <-jw.w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			rec := &syv1.JobRun{}
			if err := proto.Unmarshal(e.Value(), rec); err != nil {
				jw.t.Fatalf("run record %s: %v", e.Key(), err)
			}
			jw.recs[e.Key()] = rec
		case n := <-jw.notes:
			jw.count[jw.keyOf(n)]++
		case <-deadline:
			jw.t.Fatalf("timed out waiting for %s (records %d)", what, len(jw.recs))
		}
	}
}

func (jw *jobWatch) keyOf(n *syv1.JobNotification) string {
	tick, err := time.Parse(time.RFC3339Nano, n.GetTick())
	if err != nil {
		jw.t.Fatalf("notification tick %q: %v", n.GetTick(), err)
	}
	return fmt.Sprintf("%s.%d", jw.job, tick.Unix())
}

// notified counts the run records whose notification is confirmed.
func (jw *jobWatch) notified() int {
	n := 0
	for _, r := range jw.recs {
		if r.GetNotified() {
			n++
		}
	}
	return n
}

// settled: every record is notified and every notification received.
func (jw *jobWatch) settled() bool {
	for key, r := range jw.recs {
		if !r.GetNotified() || jw.count[key] == 0 {
			return false
		}
	}
	return true
}

// finish deletes the job, waits until every run it started is notified,
// then checks no notification came twice (a flush makes sure none is
// still on its way) and that ticks every period seconds all ran, and
// returns the run keys in tick order.
func (jw *jobWatch) finish(c *cluster, period int64) []string {
	jw.t.Helper()
	if st, b := adminCall(c, "DELETE", "/v1/jobs/"+jw.job, nil); st != http.StatusNoContent {
		jw.t.Fatalf("DELETE job: %d %v", st, b)
	}
	jw.until("every run notified", jw.settled)
	if err := jw.nc.Flush(); err != nil {
		jw.t.Fatal(err)
	}
drain:
	for {
		select {
		case n := <-jw.notes:
			jw.count[jw.keyOf(n)]++
		default:
			break drain
		}
	}
	keys := make([]string, 0, len(jw.recs))
	for key := range jw.recs {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(a, b int) bool { return tickOf(keys[a]) < tickOf(keys[b]) })
	for i, key := range keys {
		if jw.count[key] != 1 {
			jw.t.Errorf("tick %s notified %d times, want once", key, jw.count[key])
		}
		if i > 0 && tickOf(key) != tickOf(keys[i-1])+period {
			jw.t.Errorf("ticks %s and %s: a tick between them never ran", keys[i-1], key)
		}
	}
	return keys
}

func tickOf(key string) int64 {
	n, _ := strconv.ParseInt(key[strings.LastIndex(key, ".")+1:], 10, 64)
	return n
}

func adminCall(c *cluster, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, c.url(0, path), rd)
	req.Header.Set("Authorization", "Bearer "+jobAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func createJob(c *cluster, name, schedule, endpoint string) {
	c.t.Helper()
	st, b := adminCall(c, "POST", "/v1/jobs", map[string]any{"name": name, "schedule": schedule, "endpoint_id": endpoint, "prompt": "report", "owner": "alice"})
	if st != http.StatusCreated {
		c.t.Fatalf("POST /v1/jobs: %d %v", st, b)
	}
}

// Two session replicas race for every tick of an every-second job: over
// eight ticks each runs exactly once (one claim, one user.message to the
// runtime, one session, one notification) and no tick is skipped.
func TestJobTwoReplicasOncePerTick(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 1, sessions: 2, relays: 1, env: []string{"SY_ADMIN_TOKENS=" + jobAdminToken + "=ops"}})
	rt := c.connectRuntime(0, "rt-jobs", "ep-jobs")
	jr := serveJobs(t, rt, func(jobTurn) bool { return false })
	jw := watchJob(t, c.natsAddr, "tick")
	createJob(c, "tick", "@every 1s", "ep-jobs")
	const ticks = 8
	jw.until(fmt.Sprint(ticks, " ticks notified"), func() bool { return jw.notified() >= ticks })
	keys := jw.finish(c, 1)
	wins := map[string]int{}
	sessions := map[string]bool{}
	for _, key := range keys {
		rec := jw.recs[key]
		wins[rec.GetReplica()]++
		turns := jr.seen(key)
		if rec.GetAttempt() != 1 || rec.GetState() != "done" || len(turns) != 1 || turns[0].attempt != 1 {
			t.Errorf("tick %s: attempt %d state %s, runtime got %d user.message(s) %v", key, rec.GetAttempt(), rec.GetState(), len(turns), turns)
			continue
		}
		if sid := rec.GetSessionId(); sid != turns[0].session || !jr.created(sid) || sessions[sid] {
			t.Errorf("tick %s: session %q (runtime's turn in %q)", key, sid, turns[0].session)
		}
		sessions[rec.GetSessionId()] = true
	}
	t.Logf("%d ticks, won by %v", len(keys), wins)
}

// The replica running a tick is killed (SIGKILL) while its turn is in the
// runtime: after SY_JOB_LEASE the other replica takes the tick over,
// runs it again in a new session and notifies it once; the ticks after the
// kill are run by the survivor, none is lost.
func TestJobReplicaKilledMidTick(t *testing.T) {
	c := startCluster(t, clusterOptions{gateways: 1, sessions: 2, relays: 1, env: []string{
		"SY_ADMIN_TOKENS=" + jobAdminToken + "=ops", "SY_JOB_LEASE=1500ms"}})
	rt := c.connectRuntime(0, "rt-jobs", "ep-jobs")
	var held sync.Once
	heldKey := make(chan jobTurn, 1)
	jr := serveJobs(t, rt, func(turn jobTurn) bool {
		hold := false
		held.Do(func() { hold = true; heldKey <- turn })
		return hold
	})
	jw := watchJob(t, c.natsAddr, "kill")
	createJob(c, "kill", "@every 2s", "ep-jobs")
	var first jobTurn
	select {
	case first = <-heldKey:
	case <-time.After(3 * waitLimit):
		t.Fatal("no job turn reached the runtime")
	}
	jw.until("the held tick's claim", func() bool { return jw.recs[first.key] != nil })
	victim := jw.recs[first.key].GetReplica()
	var survivor string
	killedAt := int64(0)
	for _, p := range c.sessions {
		if p.name == victim {
			p.kill()
			killedAt = time.Now().Unix()
		} else {
			survivor = p.name
		}
	}
	if killedAt == 0 {
		t.Fatalf("the tick's replica %q is none of the session replicas", victim)
	}
	jw.until("the held tick taken over and notified", func() bool { r := jw.recs[first.key]; return r != nil && r.GetNotified() })
	jw.until("two ticks after the kill notified", func() bool {
		n := 0
		for key, r := range jw.recs {
			if tickOf(key) > killedAt && r.GetNotified() {
				n++
			}
		}
		return n >= 2
	})
	keys := jw.finish(c, 2)

	rec := jw.recs[first.key]
	turns := jr.seen(first.key)
	if rec.GetAttempt() != 2 || rec.GetReplica() != survivor || rec.GetState() != "done" {
		t.Fatalf("held tick %s: attempt %d replica %s state %s, want attempt 2 by %s", first.key, rec.GetAttempt(), rec.GetReplica(), rec.GetState(), survivor)
	}
	if len(turns) != 2 || turns[1].attempt != 2 || turns[1].session == first.session || rec.GetSessionId() != turns[1].session {
		t.Fatalf("held tick %s: runtime turns %v, record session %q", first.key, turns, rec.GetSessionId())
	}
	for _, key := range keys {
		if r := jw.recs[key]; tickOf(key) > killedAt && (r.GetReplica() != survivor || r.GetState() != "done") {
			t.Errorf("tick %s after the kill: replica %s state %s", key, r.GetReplica(), r.GetState())
		}
	}
}
