package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func code(err error) string {
	var je *Error
	if errors.As(err, &je) {
		return je.Code
	}
	return ""
}

// Create, list and delete over NATS, from a client on another connection.
func TestClientCRUD(t *testing.T) {
	url := testenv.NATS(t).URL()
	startReplica(t, url, "replica-a", RunnerFunc(func(context.Context, string, string, string) (string, string, error) {
		return "", "", errors.New("not under test")
	}), testConfig(), nil)
	c := NewClient(testenv.Bus(t, url, "gateway"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	job := &syv1.Job{Name: "daily-summary", Schedule: "0 9 * * *", EndpointId: "ep-1", Prompt: "Summarize today's errors", Owner: "alice", CreatedBy: "ops"}
	got, err := c.Create(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != "daily-summary" || got.GetOwner() != "alice" || got.GetCreated() == "" {
		t.Errorf("created: %+v", got)
	}
	if _, err := c.Create(ctx, job); code(err) != CodeJobExists || HTTPStatus(code(err)) != http.StatusConflict {
		t.Errorf("duplicate: %v", err)
	}
	bad := []struct {
		job  *syv1.Job
		code string
	}{
		{&syv1.Job{Name: "b1", Schedule: "61 * * * *", EndpointId: "ep-1", Prompt: "p", Owner: "alice"}, CodeInvalidSchedule},
		{&syv1.Job{Name: "b2", Schedule: "every day", EndpointId: "ep-1", Prompt: "p", Owner: "alice"}, CodeInvalidSchedule},
		{&syv1.Job{Name: "b3", Schedule: "@every 100ms", EndpointId: "ep-1", Prompt: "p", Owner: "alice"}, CodeInvalidSchedule},
		{&syv1.Job{Name: "b.4", Schedule: "@hourly", EndpointId: "ep-1", Prompt: "p", Owner: "alice"}, errcode.InvalidMessage},
		{&syv1.Job{Name: "b5", Schedule: "@hourly", Prompt: "p", Owner: "alice"}, errcode.InvalidMessage},
		{&syv1.Job{Name: "b6", Schedule: "@hourly", EndpointId: "ep-1", Owner: "alice"}, errcode.InvalidMessage},
		{&syv1.Job{Name: "b7", Schedule: "@hourly", EndpointId: "ep-1", Prompt: "p"}, errcode.InvalidMessage},
		{&syv1.Job{Name: "b8", Schedule: "@hourly", EndpointId: "ep-1", Prompt: strings.Repeat("x", MaxPromptBytes+1), Owner: "alice"}, errcode.InvalidMessage},
	}
	for _, b := range bad {
		if _, err := c.Create(ctx, b.job); code(err) != b.code {
			t.Errorf("create %s (%q): %v, want %s", b.job.GetName(), b.job.GetSchedule(), err, b.code)
		}
	}
	if _, err := c.Create(ctx, &syv1.Job{Name: "bob-job", Schedule: "@every 1h", EndpointId: "ep-2", Prompt: "p", Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	all, err := c.List(ctx, "")
	if err != nil || len(all) != 2 || all[0].GetName() != "bob-job" || all[1].GetName() != "daily-summary" {
		t.Fatalf("list: %v %v", all, err)
	}
	if mine, err := c.List(ctx, "alice"); err != nil || len(mine) != 1 || mine[0].GetPrompt() != "Summarize today's errors" {
		t.Errorf("list alice: %v %v", mine, err)
	}
	if del, err := c.Delete(ctx, "daily-summary"); err != nil || del.GetSchedule() != "0 9 * * *" {
		t.Errorf("delete: %v %v", del, err)
	}
	if _, err := c.Delete(ctx, "daily-summary"); code(err) != CodeJobNotFound {
		t.Errorf("second delete: %v", err)
	}
	if _, err := c.Delete(ctx, "no.such"); code(err) != CodeJobNotFound {
		t.Errorf("delete of an invalid name: %v", err)
	}
	// The name is free again.
	if _, err := c.Create(ctx, job); err != nil {
		t.Errorf("re-create after delete: %v", err)
	}
}

// No session replica: the client says unavailable (REST 503), at once.
func TestClientWithoutService(t *testing.T) {
	url := testenv.NATS(t).URL()
	c := NewClient(testenv.Bus(t, url, "gateway"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.List(ctx, ""); code(err) != errcode.Unavailable || HTTPStatus(code(err)) != http.StatusServiceUnavailable {
		t.Errorf("list without a service: %v", err)
	}
}

// The REST handlers a gateway mounts: shapes and statuses.
func TestREST(t *testing.T) {
	url := testenv.NATS(t).URL()
	startReplica(t, url, "replica-a", RunnerFunc(func(context.Context, string, string, string) (string, string, error) {
		return "", "", errors.New("not under test")
	}), testConfig(), nil)
	h := REST{Client: NewClient(testenv.Bus(t, url, "gateway"))}
	mux := http.NewServeMux()
	admin := func(f func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { f(w, r, "ops") }
	}
	mux.HandleFunc("POST /v1/jobs", admin(h.Create))
	mux.HandleFunc("GET /v1/jobs", admin(h.List))
	mux.HandleFunc("DELETE /v1/jobs/{name}", admin(h.Delete))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, out := do("POST", "/v1/jobs", `{"name":"daily-summary","schedule":"0 9 * * *","endpoint_id":"ep-1","prompt":"Summarize"}`)
	if st != http.StatusCreated || out["name"] != "daily-summary" || out["owner"] != "ops" || out["created_by"] != "ops" || out["created"] == "" {
		t.Errorf("create: %d %v", st, out)
	}
	st, out = do("POST", "/v1/jobs", `{"name":"for-alice","schedule":"@daily","endpoint_id":"ep-1","prompt":"Hi","owner":"alice"}`)
	if st != http.StatusCreated || out["owner"] != "alice" {
		t.Errorf("create with owner: %d %v", st, out)
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":"daily-summary","schedule":"0 9 * * *","endpoint_id":"ep-1","prompt":"x"}`, 409, CodeJobExists},
		{`{"name":"x","schedule":"0 25 * * *","endpoint_id":"ep-1","prompt":"x"}`, 400, CodeInvalidSchedule},
		{`{"name":"x","schedule":5,"endpoint_id":"ep-1","prompt":"x"}`, 400, errcode.InvalidMessage},
		{`{"name":"x","endpoint_id":"ep-1","prompt":"x"}`, 400, errcode.InvalidMessage},
		{`not json`, 400, errcode.InvalidJSON},
	} {
		if st, out := do("POST", "/v1/jobs", c.body); st != c.status || out["code"] != c.code || out["message"] == "" {
			t.Errorf("POST %s: %d %v, want %d %s", c.body, st, out, c.status, c.code)
		}
	}
	st, out = do("GET", "/v1/jobs", "")
	if list, _ := out["jobs"].([]any); st != 200 || len(list) != 2 {
		t.Errorf("list: %d %v", st, out)
	}
	if st, _ := do("DELETE", "/v1/jobs/daily-summary", ""); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if st, out := do("DELETE", "/v1/jobs/daily-summary", ""); st != http.StatusNotFound || out["code"] != CodeJobNotFound {
		t.Errorf("delete again: %d %v", st, out)
	}
}

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{`{"name":"a","schedule":"@daily","endpoint_id":"e","prompt":"p"}`, `{"name":1}`, `[]`, `{"owner":null}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		j, err := DecodeCreate(strings.NewReader(body), "ops")
		if err != nil {
			if c := code(err); c != errcode.InvalidJSON && c != errcode.InvalidMessage {
				t.Fatalf("%q: error without a code: %v", body, err)
			}
			return
		}
		if j.GetOwner() == "" || j.GetCreatedBy() != "ops" {
			t.Fatalf("%q: decoded %+v", body, j)
		}
	})
}
