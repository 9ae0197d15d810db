package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/services/examples/internal/fakehub"
	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

const (
	sid   = "s1"
	token = "client-tok"
)

// syncBuffer is a writer the test can wait on.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until the buffer holds s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(fakehub.Timeout)
	for !strings.Contains(b.String(), s) {
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatalf("output never showed %q; got %q", s, b.String())
		}
	}
}

// session is a running client under test.
type session struct {
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// wait returns run's result.
func (s *session) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(fakehub.Timeout):
		t.Fatalf("client did not exit; stdout %q stderr %q", s.stdout, s.stderr)
		return nil
	}
}

func newHub(t *testing.T) *fakehub.Hub {
	hub := fakehub.New(t, "/ws/client")
	hub.Mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if r.Header.Get("Authorization") != "Bearer "+token || json.NewDecoder(r.Body).Decode(&body) != nil || body["endpoint_id"] != "shell" {
			t.Errorf("POST /v1/sessions: auth %q body %v", r.Header.Get("Authorization"), body)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"s1","endpoint_id":"shell","status":"active","created_at":"2026-01-01T00:00:00Z"}`)
	})
	return hub
}

func start(t *testing.T, hub *fakehub.Hub, stdin io.Reader, cfg config) *session {
	t.Helper()
	cfg.hub, cfg.token = hub.URL, token
	cfg.endpoint = "shell"
	cfg.backoff = hubconn.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	s := &session{stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		defer close(s.done)
		s.err = run(ctx, cfg, terminal{in: stdin, out: s.stdout, err: s.stderr}, log)
	}()
	return s
}

// subscribed accepts the client's connection and checks its subscribe.
func subscribed(t *testing.T, hub *fakehub.Hub, afterSeq int64) *fakehub.Conn {
	t.Helper()
	c := hub.Accept(t)
	if got := c.Request.URL.Query().Get("token"); got != token {
		t.Errorf("ws token = %q", got)
	}
	sub := fakehub.Decode[subscribe](t, c.Expect(t, "client.subscribe"))
	if sub != (subscribe{SessionID: sid, AfterSeq: afterSeq}) {
		t.Fatalf("subscribe = %+v, want after_seq %d", sub, afterSeq)
	}
	return c
}

// msg renders a transcript frame as history.response carries it.
func msg(typ string, seq int64, payload any) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": typ, "session_id": sid, "seq": seq, "ts": frame.Now(), "payload": payload})
	return b
}

func history(t *testing.T, c *fakehub.Conn, afterSeq int64, msgs ...json.RawMessage) {
	t.Helper()
	if msgs == nil {
		msgs = []json.RawMessage{}
	}
	c.Send(t, "history.response", sid, 0, historyResponse{SessionID: sid, AfterSeq: afterSeq, Messages: msgs})
}

func output(channel, content string, seq int64) map[string]any {
	return map[string]any{"session_id": sid, "message_id": frame.NewID(), "seq": seq, "channel": channel, "content": content, "final": false}
}

func turn(msgID string, exit *int) map[string]any {
	p := map[string]any{"session_id": sid, "in_response_to": msgID}
	if exit != nil {
		p["exit_code"] = *exit
	}
	return p
}

func TestHistoryLiveReconnectAndExitOnEOF(t *testing.T) {
	hub := newHub(t)
	s := start(t, hub, strings.NewReader("echo hi\n"), config{})
	zero := 0
	c := subscribed(t, hub, 0)
	history(t, c, 0,
		msg("user.message", 1, userMessage{SessionID: sid, MessageID: "other", Content: "ls -1"}),
		msg("agent.output", 2, output("stdout", "old\n", 1)),
		msg("turn.completed", 3, turn("other", &zero)))

	m := fakehub.Decode[userMessage](t, c.Expect(t, "user.message"))
	if m.SessionID != sid || m.Content != "echo hi" || m.MessageID == "" {
		t.Fatalf("user.message = %+v", m)
	}
	c.Send(t, "user.message", sid, 4, m) // the transcript echo
	c.Send(t, "turn.started", sid, 5, turn(m.MessageID, nil))
	c.Send(t, "agent.output", sid, 6, output("stdout", "hi\n", 2))
	c.Send(t, "agent.output", sid, 7, output("stderr", "warn\n", 3))
	s.stderr.waitFor(t, "warn\n")
	c.Drop()

	c = subscribed(t, hub, 7)
	history(t, c, 7,
		msg("agent.output", 7, output("stderr", "warn\n", 3)), // a duplicate the client must skip
		msg("agent.output", 8, output("stdout", "more\n", 4)),
		msg("agent.output", 9, map[string]any{"session_id": sid, "seq": 5, "channel": "system", "final": true}),
		msg("turn.completed", 10, turn(m.MessageID, &zero)))

	if err := s.wait(t); err != nil {
		t.Fatalf("run = %v", err)
	}
	if got := s.stdout.String(); got != "old\nhi\nmore\n" {
		t.Errorf("stdout = %q", got)
	}
	errOut := s.stderr.String()
	for _, want := range []string{"session s1 on endpoint shell (active)", "user> ls -1", "turn started", "turn completed (exit 0)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "user> echo hi") || strings.Count(errOut, "warn\n") != 1 {
		t.Errorf("stderr echoes our own message or repeats output:\n%s", errOut)
	}
}

func TestCommandsPromptsAndSessionClosed(t *testing.T) {
	hub := newHub(t)
	stdin, typing := io.Pipe()
	t.Cleanup(func() { typing.Close() })
	s := start(t, hub, stdin, config{session: sid, afterSeq: 41})
	c := subscribed(t, hub, 41)
	history(t, c, 41)

	c.Send(t, "ping", "", 0, nil)
	c.Expect(t, "pong")
	c.Send(t, "permission.request", sid, 42, map[string]any{"session_id": sid, "request_id": "r1", "tool": "Bash", "description": "Execute: rm x"})
	s.stderr.waitFor(t, "Allow? [y/N]")
	io.WriteString(typing, "y\n")
	if p := fakehub.Decode[permissionResponse](t, c.Expect(t, "permission.response")); p != (permissionResponse{SessionID: sid, RequestID: "r1", Approved: true}) {
		t.Errorf("permission.response = %+v", p)
	}
	io.WriteString(typing, "/stop\n")
	if f := c.Expect(t, "stop.request"); f.SessionID != sid || fakehub.Decode[sessionRef](t, f).SessionID != sid {
		t.Errorf("stop.request = %s %s", f.SessionID, f.Payload)
	}
	c.Send(t, "error", sid, 0, errorPayload{Code: "rate_limited", Message: "slow down"})
	s.stderr.waitFor(t, "error rate_limited: slow down")
	io.WriteString(typing, "/close\n")
	if p := fakehub.Decode[sessionRef](t, c.Expect(t, "session.close")); p != (sessionRef{SessionID: sid, Reason: "user_requested"}) {
		t.Errorf("session.close = %+v", p)
	}
	c.Send(t, "session.closed", sid, 43, sessionRef{SessionID: sid, Reason: "user_requested"})
	if err := s.wait(t); err != nil {
		t.Fatalf("run = %v, want a clean exit on session.closed", err)
	}
	s.stderr.waitFor(t, "session closed (user_requested)")
}

func TestTurnInProgressRequeues(t *testing.T) {
	hub := newHub(t)
	s := start(t, hub, strings.NewReader("a\nb\n"), config{session: sid})
	c := subscribed(t, hub, 0)
	history(t, c, 0)
	first := fakehub.Decode[userMessage](t, c.Expect(t, "user.message"))
	c.Send(t, "error", sid, 0, errorPayload{Code: "turn_in_progress", Message: "busy"})
	c.Send(t, "turn.completed", sid, 1, turn("someone-else", nil))

	seq := int64(1)
	for _, want := range []string{"a", "b"} {
		m := fakehub.Decode[userMessage](t, c.Expect(t, "user.message"))
		if m.Content != want || m.MessageID == first.MessageID {
			t.Fatalf("user.message = %+v, want %q with a fresh id", m, want)
		}
		seq += 2
		c.Send(t, "turn.started", sid, seq-1, turn(m.MessageID, nil))
		c.Send(t, "turn.completed", sid, seq, turn(m.MessageID, nil))
	}
	if err := s.wait(t); err != nil {
		t.Fatalf("run = %v", err)
	}
}

func TestCreateSessionError(t *testing.T) {
	hub := fakehub.New(t, "/ws/client")
	hub.Mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code":"endpoint_not_found","message":"no endpoint shell"}`)
	})
	s := start(t, hub, strings.NewReader(""), config{})
	err := s.wait(t)
	if err == nil || !strings.Contains(err.Error(), `{"code":"endpoint_not_found","message":"no endpoint shell"}`) {
		t.Fatalf("run = %v, want the hub's error body", err)
	}
}

func TestListEndpoints(t *testing.T) {
	hub := fakehub.New(t, "/ws/client")
	hub.Mux.HandleFunc("GET /v1/endpoints", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"id":"shell","name":"Shell (box)","profile":"shell","runtime_id":"shell-box","online":true,"tags":{}}]`)
	})
	s := start(t, hub, strings.NewReader(""), config{list: true})
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(strings.Split(s.stdout.String(), "\n")[1]); strings.Join(got, " ") != "shell Shell (box) shell shell-box true" {
		t.Errorf("list = %q", s.stdout)
	}
}

func TestParseConfigNormalizesHub(t *testing.T) {
	env := map[string]string{"SY_HUB_URL": "ws://127.0.0.1:8080/ws/runtime"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.hub != "http://127.0.0.1:8080" || cfg.token != "dev-client-token" || cfg.endpoint != "shell" {
		t.Fatalf("parseConfig = %+v, %v", cfg, err)
	}
	u, _ := hubconn.WebSocketURL("https://hub.example/base/", "/ws/client")
	if u.String() != "wss://hub.example/base/ws/client" {
		t.Errorf("ws url = %s", u)
	}
}
