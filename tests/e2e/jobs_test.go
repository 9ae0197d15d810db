package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// jobTurn is one turn a job started, as the runtime saw it.
type jobTurn struct {
	session, messageID, content string
}

// jobRuntime answers every session.create and every user.message on rt in
// the background: each turn's output is chunks, then turn.completed.
type jobRuntime struct {
	rt     *peer
	chunks []string
	turns  chan jobTurn
	mu     sync.Mutex
	made   map[string]bool // sessions the runtime was asked to create
	done   chan struct{}
}

func serveJobRuntime(t *testing.T, rt *peer, chunks []string) *jobRuntime {
	j := &jobRuntime{rt: rt, chunks: chunks, turns: make(chan jobTurn, 64), made: map[string]bool{}, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		for m := range rt.Frames {
			p := payload(m)
			sid, _ := p["session_id"].(string)
			var err error
			switch m["type"] {
			case "session.create":
				j.mu.Lock()
				j.made[sid] = true
				j.mu.Unlock()
				err = rt.Send(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(),
					"payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
			case "user.message":
				mid, _ := p["message_id"].(string)
				content, _ := p["content"].(string)
				err = j.answer(sid, mid)
				j.turns <- jobTurn{session: sid, messageID: mid, content: content}
			}
			if err != nil {
				t.Errorf("job runtime: %v", err)
				return
			}
		}
	}()
	return j
}

func (j *jobRuntime) answer(sid, mid string) error {
	for i, c := range j.chunks {
		if err := j.rt.Send(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "message_id": fmt.Sprintf("%s-o%d", mid, i), "seq": i + 1, "channel": "stdout", "content": c, "final": i == len(j.chunks)-1}}); err != nil {
			return err
		}
	}
	return j.rt.Send(map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "in_response_to": mid, "exit_code": 0}})
}

func (j *jobRuntime) created(sid string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.made[sid]
}

// busEvents collects the envelopes published on subject (core NATS).
func busEvents(t *testing.T, url, subject string) <-chan *syv1.Envelope {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan *syv1.Envelope, 256)
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		env := &syv1.Envelope{}
		if err := proto.Unmarshal(m.Data, env); err != nil {
			t.Errorf("undecodable envelope on %s: %v", subject, err)
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

// jobNotification waits for the next notification of job on sy.job.notification.
func jobNotification(t *testing.T, ch <-chan *syv1.Envelope, job string) (*syv1.Envelope, *syv1.JobNotification) {
	t.Helper()
	deadline := time.After(3 * waitLimit)
	for {
		select {
		case env := <-ch:
			if n := env.GetJobNotification(); n.GetJobName() == job {
				return env, n
			}
		case <-deadline:
			t.Fatalf("no notification of job %s", job)
		}
	}
}

// userNotification waits for the /notification event of job's tick.
func userNotification(t *testing.T, ch <-chan *syv1.Envelope, job, tick string) *syv1.UserNotification {
	t.Helper()
	deadline := time.After(3 * waitLimit)
	for {
		select {
		case env := <-ch:
			d := env.GetUserNotification().GetDetails().AsMap()
			if d["job_name"] == job && d["tick"] == tick {
				return env.GetUserNotification()
			}
		case <-deadline:
			t.Fatalf("no user notification of job %s tick %s", job, tick)
		}
	}
}

// TestScheduledJobs drives scheduled jobs end to end: the admin REST API
// on one gateway, a runtime on another; every tick of an "@every 1s" job
// creates a session of the owner on the endpoint whose transcript holds
// the prompt and the output, and is notified on sy.job.notification and as a
// /notification UserNotification with the preview cut to 500 characters
// on a UTF-8 boundary. A run finding the runtime gone fails with
// success:false, no session id and runtime_offline. GET and DELETE list
// and remove jobs; refusals carry their documented status and code.
func TestScheduledJobs(t *testing.T) {
	h := adminHub(t, nil)
	notes := busEvents(t, h.st.NATSURL, bus.SubjJobNotification())
	pushed := busEvents(t, h.st.NATSURL, push.Subject(push.KindUserNotification))
	rt := h.connectRuntime(0, "rt-jobs", "ep-jobs")
	// 499 letters, then a 4-byte rune at character 500 that a byte cut at
	// 500 would split, then more than the preview keeps.
	chunks := []string{strings.Repeat("a", 499), "😀" + strings.Repeat("é", 100)}
	full := strings.Join(chunks, "")
	wantPreview := strings.Repeat("a", 499) + "😀"
	jr := serveJobRuntime(t, rt, chunks)

	job := map[string]any{"name": "digest", "schedule": "@every 1s", "endpoint_id": "ep-jobs", "prompt": "summarize the day", "owner": "alice"}
	for _, c := range []struct {
		token  string
		body   any
		status int
		code   string
	}{
		{"", job, http.StatusUnauthorized, "auth_failed"},
		{clientToken, job, http.StatusForbidden, "forbidden"},
		{adminToken, map[string]any{"name": "x", "schedule": "every minute", "endpoint_id": "ep-jobs", "prompt": "p"}, http.StatusBadRequest, "invalid_schedule"},
		{adminToken, map[string]any{"name": "x", "schedule": "* * * * *", "endpoint_id": "ep-jobs"}, http.StatusBadRequest, "invalid_message"},
		{adminToken, map[string]any{"name": "x", "schedule": 5, "endpoint_id": "ep-jobs", "prompt": "p"}, http.StatusBadRequest, "invalid_message"},
	} {
		if st, b := h.call(1, "POST", "/v1/jobs", c.token, c.body); st != c.status || b["code"] != c.code {
			t.Fatalf("POST /v1/jobs %v (token %q): %d %v, want %d %s", c.body, c.token, st, b, c.status, c.code)
		}
	}
	st, b := h.call(1, "POST", "/v1/jobs", adminToken, job)
	if st != http.StatusCreated || b["name"] != "digest" || b["owner"] != "alice" || b["created_by"] != "ops" || b["schedule"] != "@every 1s" || b["created"] == "" {
		t.Fatalf("POST /v1/jobs: %d %v", st, b)
	}
	if st, b := h.call(1, "POST", "/jobs", adminToken, job); st != http.StatusConflict || b["code"] != "job_exists" {
		t.Fatalf("second POST /jobs: %d %v", st, b)
	}
	if st, b := h.call(1, "GET", "/jobs", adminToken, nil); st != http.StatusOK || len(b["jobs"].([]any)) != 1 || b["jobs"].([]any)[0].(map[string]any)["prompt"] != "summarize the day" {
		t.Fatalf("GET /jobs: %d %v", st, b)
	}

	// Two runs: two ticks, two sessions, each with the prompt and output.
	seen := map[string]bool{}
	var first *syv1.JobNotification
	for len(seen) < 2 {
		env, n := jobNotification(t, notes, "digest")
		if !n.GetSuccess() || n.GetOwner() != "alice" || env.GetId() != "job-digest."+unixOf(t, n.GetTick()) {
			t.Fatalf("notification: id %q %v", env.GetId(), n)
		}
		if n.GetResultPreview() != wantPreview || utf8.RuneCountInString(n.GetResultPreview()) != 500 {
			t.Fatalf("result_preview (%d runes, %d bytes) is not the first 500 characters of the output", utf8.RuneCountInString(n.GetResultPreview()), len(n.GetResultPreview()))
		}
		if !jr.created(n.GetSessionId()) || seen[n.GetSessionId()] {
			t.Fatalf("notification names session %q: not one the runtime created, or a repeat", n.GetSessionId())
		}
		seen[n.GetSessionId()] = true
		if first == nil {
			first = n
		}
		un := userNotification(t, pushed, "digest", n.GetTick())
		if un.GetScope().GetUserId() != "alice" || un.GetCategory() != "job" || un.GetTitle() != "Job digest finished" ||
			un.GetMessage() != wantPreview || un.GetDetails().AsMap()["session_id"] != n.GetSessionId() {
			t.Fatalf("user notification: %v", un)
		}
	}
	if st, b := h.call(1, "DELETE", "/v1/jobs/digest", adminToken, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE /v1/jobs/digest: %d %v", st, b)
	}
	if st, b := h.call(1, "DELETE", "/jobs/digest", adminToken, nil); st != http.StatusNotFound || b["code"] != "job_not_found" {
		t.Fatalf("second DELETE: %d %v", st, b)
	}
	if st, b := h.call(1, "GET", "/v1/jobs", adminToken, nil); st != http.StatusOK || len(b["jobs"].([]any)) != 0 {
		t.Fatalf("GET /v1/jobs after delete: %d %v", st, b)
	}

	// The session is the owner's, on the endpoint, and its transcript
	// holds the prompt and the whole output.
	sid := first.GetSessionId()
	if st, b, _ := h.rest("GET", "/v1/sessions/"+sid, clientToken, nil); st != http.StatusOK || b["user_id"] != "alice" || b["endpoint_id"] != "ep-jobs" {
		t.Fatalf("GET /v1/sessions/%s: %d %v", sid, st, b)
	}
	var prompt, output strings.Builder
	completed := false
	for _, m := range subscribe(h.connectClient(1, clientToken), sid, 0) {
		p := payload(m)
		switch m["type"] {
		case "user.message":
			prompt.WriteString(p["content"].(string))
		case "agent.output":
			output.WriteString(p["content"].(string))
		case "turn.completed":
			completed = true
		}
	}
	if prompt.String() != "summarize the day" || output.String() != full || !completed {
		t.Fatalf("transcript of %s: prompt %q, output %d runes, completed %v", sid, prompt.String(), utf8.RuneCountInString(output.String()), completed)
	}

	// The runtime leaves: a run now fails, without a session.
	_ = rt.Conn.Close()
	<-jr.done
	waitFor(t, "runtime offline", func() bool {
		st, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		return st == http.StatusOK && strings.Contains(string(raw), `"online":false`)
	})
	if st, b := h.call(1, "POST", "/v1/jobs", adminToken, map[string]any{"name": "offline", "schedule": "*/1 * * * * *", "endpoint_id": "ep-jobs", "prompt": "p", "owner": "alice"}); st != http.StatusCreated {
		t.Fatalf("POST offline job: %d %v", st, b)
	}
	_, n := jobNotification(t, notes, "offline")
	if n.GetSuccess() || n.GetSessionId() != "" || n.GetError().GetCode() != "runtime_offline" || !strings.Contains(n.GetResultPreview(), "no runtime online for endpoint ep-jobs") {
		t.Fatalf("failed run's notification: %v", n)
	}
	un := userNotification(t, pushed, "offline", n.GetTick())
	if un.GetTitle() != "Job offline failed" || un.GetDetails().AsMap()["success"] != false || un.GetDetails().AsMap()["error_code"] != "runtime_offline" {
		t.Fatalf("failed run's user notification: %v", un)
	}
	if st, _ := h.call(1, "DELETE", "/v1/jobs/offline", adminToken, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE offline: %d", st)
	}
}

func unixOf(t *testing.T, stamp string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		t.Fatalf("tick %q: %v", stamp, err)
	}
	return fmt.Sprint(tm.Unix())
}

// TestScheduledJobFailures: a turn that completes with the chat
// extension's is_error fails its run (runtime_error, the runtime's errors
// in the preview), and a turn that outlives SY_JOB_RUN_TIMEOUT fails as
// runtime_timeout and is stopped (the runtime gets stop.request); neither
// names a session.
func TestScheduledJobFailures(t *testing.T) {
	h := adminHub(t, map[string]string{"SY_JOB_RUN_TIMEOUT": "1500ms"})
	notes := busEvents(t, h.st.NATSURL, bus.SubjJobNotification())
	rt := h.connectRuntime(0, "rt-fail", "ep-fail")
	stops := make(chan string, 64)
	go func() {
		for m := range rt.Frames {
			p := payload(m)
			sid, _ := p["session_id"].(string)
			var err error
			switch m["type"] {
			case "session.create":
				err = rt.Send(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(),
					"payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
			case "user.message":
				if mid, _ := p["message_id"].(string); strings.HasPrefix(mid, "job-broken.") {
					err = rt.Send(map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(), "payload": map[string]any{
						"session_id": sid, "in_response_to": mid, "is_error": true, "errors": []any{"tool crashed"}}})
				} // job-slow.*: never answered
			case "stop.request":
				stops <- sid
			}
			if err != nil {
				t.Errorf("runtime: %v", err)
				return
			}
		}
	}()
	for _, name := range []string{"broken", "slow"} {
		if st, b := h.call(1, "POST", "/v1/jobs", adminToken, map[string]any{"name": name, "schedule": "@every 1s", "endpoint_id": "ep-fail", "prompt": "go", "owner": "alice"}); st != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", name, st, b)
		}
	}
	_, n := jobNotification(t, notes, "broken")
	if n.GetSuccess() || n.GetSessionId() != "" || n.GetError().GetCode() != "runtime_error" || !strings.Contains(n.GetResultPreview(), "tool crashed") {
		t.Fatalf("is_error turn's notification: %v", n)
	}
	_, n = jobNotification(t, notes, "slow")
	if n.GetSuccess() || n.GetSessionId() != "" || n.GetError().GetCode() != "runtime_timeout" {
		t.Fatalf("timed-out run's notification: %v", n)
	}
	select {
	case <-stops:
	case <-time.After(waitLimit):
		t.Fatal("the timed-out turn was not stopped")
	}
	for _, name := range []string{"broken", "slow"} {
		if st, _ := h.call(1, "DELETE", "/v1/jobs/"+name, adminToken, nil); st != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", name, st)
		}
	}
}
