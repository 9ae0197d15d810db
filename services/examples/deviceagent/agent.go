package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

const (
	version      = "0.1.0"
	helloTimeout = device.RequestTimeout
	writeTimeout = hubconn.DefaultWriteTimeout
)

// capabilities are what get_info and the hello announce.
var capabilities = []string{"file_upload", "steam_shortcuts", "steam_artwork", "steam_restart"}

// agent is the connection-independent state of the device.
type agent struct {
	cfg       config
	log       *slog.Logger
	stdout    io.Writer // pairing codes are shown here
	out       chan frame.Out
	backoff   hubconn.Backoff
	base      *url.URL // http(s) base of the hub, for relative download URLs
	shortcuts *shortcutStore

	mu      sync.Mutex
	token   string
	running map[string]context.CancelFunc // by request id and upload id
	work    sync.WaitGroup
}

func newAgent(cfg config, log *slog.Logger, stdout io.Writer) (*agent, error) {
	base, err := hubconn.BaseURL(cfg.hubURL)
	if err != nil {
		return nil, err
	}
	return &agent{
		cfg: cfg, log: log, stdout: stdout, out: make(chan frame.Out, 256), base: base,
		shortcuts: newShortcutStore(cfg.dir), token: cfg.token, running: map[string]context.CancelFunc{},
	}, nil
}

// Run serves the hub until ctx is done or the hub refuses the device.
func (a *agent) Run(ctx context.Context) error {
	u, err := hubconn.WebSocketURL(a.cfg.hubURL, "/ws/runtime")
	if err != nil {
		return err
	}
	a.log.Info("device agent", "id", a.cfg.id, "dir", a.cfg.dir, "accept", a.cfg.accept)
	link := hubconn.New(hubconn.Config{
		URL: u.String(), Out: a.out, Handshake: a.hello, Handle: a.handle,
		Logger: a.log, Backoff: a.backoff,
	})
	err = link.Run(ctx)
	a.cancelAll()
	a.work.Wait()
	return err
}

func (a *agent) hello(ctx context.Context, conn *websocket.Conn) error {
	return hubconn.Hello(ctx, conn, a.helloPayload(), helloTimeout, a.log)
}

func (a *agent) helloPayload() helloPayload {
	a.mu.Lock()
	token := a.token
	a.mu.Unlock()
	return helloPayload{
		RuntimeID: a.cfg.id, Token: token, OrgID: "default",
		Endpoints: []endpoint{{
			ID: a.cfg.id, Profile: "device", Name: a.cfg.name,
			Tags: map[string]string{"platform": runtime.GOOS},
			Caps: endpointCaps{Device: deviceCaps{
				Name: a.cfg.name, Platform: runtime.GOOS, Version: version,
				Capabilities: capabilities, AcceptConnections: a.cfg.accept,
			}},
		}},
	}
}

// handle dispatches one hub frame on the reader goroutine; operations run
// on their own goroutines.
func (a *agent) handle(ctx context.Context, f frame.Frame) {
	var err error
	switch f.Type {
	case "device.request":
		err = a.onRequest(ctx, f)
	case "device.pairing_code":
		err = a.onPairingCode(f)
	case "device.upload_ready":
		err = a.onUploadReady(ctx, f)
	case "device.cancel":
		err = a.onCancel(f)
	case "endpoint.config_update":
		var p configUpdate
		if err = f.Decode(&p); err == nil {
			a.send(ctx, frame.New("endpoint.config_ack", "", configAck{EndpointID: p.EndpointID, OK: true}))
		}
	case "runtime.token_refresh":
		var p tokenRefresh
		if err = f.Decode(&p); err == nil && p.Token != "" {
			a.mu.Lock()
			a.token = p.Token
			a.mu.Unlock()
		}
	case "error":
		a.log.Warn("hub error", "payload", string(f.Payload))
	default:
		a.log.Debug("ignoring frame", "type", f.Type)
	}
	if err != nil {
		a.log.Warn("cannot handle frame", "type", f.Type, "err", err)
	}
}

func (a *agent) send(ctx context.Context, f frame.Out) {
	select {
	case a.out <- f:
	case <-ctx.Done():
		a.log.Debug("dropping frame", "type", f.Type)
	}
}

func (a *agent) respond(ctx context.Context, r deviceResponse) {
	a.send(ctx, frame.New("device.response", "", r))
}

func (a *agent) onPairingCode(f frame.Frame) error {
	var p pairingCode
	if err := f.Decode(&p); err != nil {
		return err
	}
	hub := p.HubName
	if hub == "" {
		hub = "a controller"
	}
	fmt.Fprintf(a.stdout, "\n  Pairing request from %s (hubId %s)\n  Pairing code: %s   (expires in %d s)\n\n", hub, p.HubID, p.Code, p.ExpiresIn)
	a.log.Info("pairing code shown", "hub_id", p.HubID, "expires_in", p.ExpiresIn)
	return nil
}

func (a *agent) onRequest(ctx context.Context, f frame.Frame) error {
	var r deviceRequest
	if err := f.Decode(&r); err != nil {
		return err
	}
	if r.RequestID == "" {
		return fmt.Errorf("device.request without request_id")
	}
	opCtx, cancel := a.track(ctx, r.RequestID)
	a.work.Go(func() {
		defer cancel()
		defer a.untrack(r.RequestID)
		resp := a.operate(opCtx, r)
		a.respond(ctx, resp)
	})
	return nil
}

func (a *agent) onCancel(f frame.Frame) error {
	var c deviceCancel
	if err := f.Decode(&c); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range []string{c.RequestID, c.UploadID} {
		if cancel := a.running[id]; id != "" && cancel != nil {
			cancel()
			a.log.Info("operation cancelled", "id", id, "reason", c.Reason)
		}
	}
	return nil
}

// track registers a cancellable context under ids; the caller calls
// cancel (untrack does too) when the operation ends.
func (a *agent) track(ctx context.Context, ids ...string) (context.Context, context.CancelFunc) {
	opCtx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	for _, id := range ids {
		if id != "" {
			a.running[id] = cancel
		}
	}
	a.mu.Unlock()
	return opCtx, cancel
}

func (a *agent) untrack(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		if cancel := a.running[id]; cancel != nil {
			cancel()
			delete(a.running, id)
		}
	}
}

func (a *agent) cancelAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cancel := range a.running {
		cancel()
	}
}

// progressEvery throttles operation_event progress while fetching.
const progressEvery = 250 * time.Millisecond
