package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	rt "runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

const (
	helloTimeout = 30 * time.Second // the hub's request timeout
	writeTimeout = hubconn.DefaultWriteTimeout
)

// runtime is the connection-independent state: sessions survive
// reconnects, and output produced while disconnected waits in out.
type runtime struct {
	cfg     config
	log     *slog.Logger
	out     chan frame.Out
	backoff hubconn.Backoff // zero: hubconn's default

	mu       sync.Mutex
	token    string
	base     context.Context // parent of every session's context
	sessions map[string]*session
	turns    sync.WaitGroup
}

func newRuntime(cfg config, log *slog.Logger) *runtime {
	return &runtime{cfg: cfg, log: log, out: make(chan frame.Out, 256), token: cfg.token, sessions: map[string]*session{}}
}

// Run serves the hub until ctx is done or the hub rejects the runtime.
func (r *runtime) Run(ctx context.Context) error {
	u, err := hubconn.WebSocketURL(r.cfg.hubURL, "/ws/runtime")
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.base = ctx
	r.mu.Unlock()
	link := hubconn.New(hubconn.Config{
		URL: u.String(), Out: r.out, Handshake: r.hello, Handle: r.handle,
		Logger: r.log, Backoff: r.backoff,
	})
	err = link.Run(ctx)
	r.closeAll()
	r.turns.Wait()
	return err
}

// hello registers the runtime and its endpoint on a fresh connection.
func (r *runtime) hello(ctx context.Context, conn *websocket.Conn) error {
	return hubconn.Hello(ctx, conn, r.helloPayload(), helloTimeout, r.log)
}

func (r *runtime) helloPayload() helloPayload {
	host, _ := os.Hostname()
	r.mu.Lock()
	token := r.token
	r.mu.Unlock()
	return helloPayload{
		RuntimeID: r.cfg.runtimeID,
		Token:     token,
		OrgID:     "default",
		Endpoints: []endpoint{{
			ID:       r.cfg.endpointID,
			Profile:  "shell",
			Name:     fmt.Sprintf("Shell (%s)", host),
			Tags:     map[string]string{"host": host, "os": rt.GOOS, "shell": r.cfg.shell},
			Caps:     caps{TurnCompletion: true, ExecModel: "run-to-completion"},
			Security: security{PermissionMode: "auto", AllowedTools: []string{"Bash"}},
		}},
	}
}

// handle dispatches one hub frame; it runs on the reader goroutine, so
// commands run elsewhere.
func (r *runtime) handle(ctx context.Context, f frame.Frame) {
	var err error
	switch f.Type {
	case "session.create":
		err = r.onSessionCreate(ctx, f)
	case "user.message":
		err = r.onUserMessage(f)
	case "stop.request":
		err = r.onStop(ctx, f)
	case "session.close":
		err = r.onSessionClose(f)
	case "permission.response", "file.upload":
		err = r.logOnly(f)
	case "endpoint.config_update":
		err = r.onConfigUpdate(ctx, f)
	case "runtime.token_refresh":
		err = r.onTokenRefresh(f)
	case "pong", "hello.ack":
	default:
		r.log.Debug("ignoring frame", "type", f.Type)
	}
	if err != nil {
		r.log.Warn("cannot handle frame", "type", f.Type, "err", err)
	}
}

// send queues a frame for the writer; it gives up when ctx ends.
func (r *runtime) send(ctx context.Context, f frame.Out) {
	select {
	case r.out <- f:
	case <-ctx.Done():
		r.log.Debug("dropping frame", "type", f.Type, "session", f.SessionID)
	}
}

func (r *runtime) onSessionCreate(ctx context.Context, f frame.Frame) error {
	var p sessionCreate
	if err := f.Decode(&p); err != nil {
		return err
	}
	id := pick(p.SessionID, f.SessionID)
	reply := sessionCreated{SessionID: id, OK: true}
	if p.EndpointID != "" && p.EndpointID != r.cfg.endpointID {
		reply.OK, reply.Error = false, fmt.Sprintf("unknown endpoint %q", p.EndpointID)
	} else if _, err := r.session(id); err != nil {
		reply.OK, reply.Error = false, err.Error()
	}
	r.log.Info("session created", "session", id, "user", p.UserID, "ok", reply.OK, "err", reply.Error)
	r.send(ctx, frame.New("session.created", id, reply))
	return nil
}

func (r *runtime) onUserMessage(f frame.Frame) error {
	var m userMessage
	if err := f.Decode(&m); err != nil {
		return err
	}
	m.SessionID = pick(m.SessionID, f.SessionID)
	s, err := r.session(m.SessionID)
	if err != nil {
		return err
	}
	s.enqueue(m)
	return nil
}

func (r *runtime) onStop(ctx context.Context, f frame.Frame) error {
	var p sessionRef
	if len(f.Payload) > 0 {
		if err := f.Decode(&p); err != nil {
			return err
		}
	}
	id := pick(p.SessionID, f.SessionID)
	ack := stopAck{SessionID: id, OK: true}
	send := func() {
		r.log.Info("stop requested", "session", id, "ok", ack.OK)
		r.send(ctx, frame.New("stop.ack", id, ack))
	}
	if s := r.lookup(id); s == nil {
		ack.OK, ack.Error = false, "unknown session"
	} else if s.stop(send) {
		return nil
	} else {
		ack.OK, ack.Error = false, "no command is running"
	}
	send()
	return nil
}

func (r *runtime) onSessionClose(f frame.Frame) error {
	var p sessionRef
	if len(f.Payload) > 0 {
		if err := f.Decode(&p); err != nil {
			return err
		}
	}
	id := pick(p.SessionID, f.SessionID)
	r.mu.Lock()
	s := r.sessions[id]
	delete(r.sessions, id)
	r.mu.Unlock()
	if s != nil {
		s.close()
	}
	r.log.Info("session closed", "session", id, "reason", p.Reason, "known", s != nil)
	return nil
}

func (r *runtime) logOnly(f frame.Frame) error {
	switch f.Type {
	case "permission.response":
		var p permissionResponse
		if err := f.Decode(&p); err != nil {
			return err
		}
		r.log.Info("permission response (nothing asks for permission here)", "session", pick(p.SessionID, f.SessionID),
			"request", p.RequestID, "approved", p.Approved, "always_allow", p.AlwaysAllow)
	case "file.upload":
		var p fileUpload
		if err := f.Decode(&p); err != nil {
			return err
		}
		r.log.Info("file uploaded (ignored)", "session", pick(p.SessionID, f.SessionID), "file", p.Metadata.FileID,
			"name", p.Metadata.Name, "mime", p.Metadata.MimeType, "size", p.Metadata.Size)
	}
	return nil
}

func (r *runtime) onConfigUpdate(ctx context.Context, f frame.Frame) error {
	var p configUpdate
	if err := f.Decode(&p); err != nil {
		return err
	}
	r.log.Info("endpoint config update (logged, not applied)", "endpoint", p.EndpointID, "security", p.Security, "limits", p.Limits)
	r.send(ctx, frame.New("endpoint.config_ack", "", configAck{EndpointID: p.EndpointID, OK: true}))
	return nil
}

func (r *runtime) onTokenRefresh(f frame.Frame) error {
	var p tokenRefresh
	if err := f.Decode(&p); err != nil {
		return err
	}
	if p.Token == "" {
		return fmt.Errorf("runtime.token_refresh carries no token")
	}
	r.mu.Lock()
	r.token = p.Token
	r.mu.Unlock()
	r.log.Info("runtime token refreshed; used from the next reconnect", "expires_at", p.ExpiresAt)
	return nil
}

// session returns the session id, creating it on first use (a user.message
// for a session this process never saw, e.g. after a runtime restart).
func (r *runtime) session(id string) (*session, error) {
	if id == "" {
		return nil, fmt.Errorf("frame names no session")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sessions[id]; s != nil {
		return s, nil
	}
	s, err := newSession(r.base, id, r)
	if err != nil {
		return nil, err
	}
	r.sessions[id] = s
	return s, nil
}

func (r *runtime) lookup(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[id]
}

func (r *runtime) closeAll() {
	r.mu.Lock()
	all := r.sessions
	r.sessions = map[string]*session{}
	r.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}

// pick prefers the payload's session id and falls back to the envelope's.
func pick(payload, envelope string) string {
	if payload != "" {
		return payload
	}
	return envelope
}
