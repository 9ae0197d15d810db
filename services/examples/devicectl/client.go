package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Timing of the document's table, as real controllers use it.
const (
	pingPeriod     = 5 * time.Second
	pongWait       = 15 * time.Second
	writeWait      = 10 * time.Second
	requestTimeout = 30 * time.Second
	maxMessage     = 10 << 20
)

// client is one controller connection to a device (through the hub).
type client struct {
	cfg    config
	log    *slog.Logger
	stderr io.Writer
	stdin  *bufio.Reader
	conn   *websocket.Conn
	wmu    sync.Mutex // one writer at a time (gorilla)
	nextID atomic.Int64

	mu      sync.Mutex
	pending map[string]chan message
	events  func(message) // upload_progress, operation_event
	readErr error
	done    chan struct{}
}

// dial connects and runs the document's handshake, pairing if needed.
func dial(ctx context.Context, cfg config, log *slog.Logger, stdin io.Reader, stderr io.Writer) (*client, *agentStatus, error) {
	d := websocket.Dialer{HandshakeTimeout: writeWait, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, cfg.hubURL, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, nil, fmt.Errorf("dial %s: %w", cfg.hubURL, err)
	}
	conn.SetReadLimit(maxMessage)
	c := &client{cfg: cfg, log: log, stderr: stderr, stdin: bufio.NewReader(stdin), conn: conn,
		pending: map[string]chan message{}, done: make(chan struct{}), events: func(message) {}}
	st, err := c.handshake(ctx)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	go c.readLoop()
	go c.pingLoop()
	return c, st, nil
}

func (c *client) id() string { return "ctl-" + strconv.FormatInt(c.nextID.Add(1), 10) }

func (c *client) writeText(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (c *client) writeBinary(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return c.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (c *client) send(id, typ string, payload any) error {
	b, err := textFrame(id, typ, payload)
	if err != nil {
		return err
	}
	return c.writeText(b)
}

func (c *client) readOne(timeout time.Duration) (message, error) {
	var m message
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		return m, fmt.Errorf("read: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("frame is not JSON: %w", err)
	}
	return m, nil
}

func (c *client) handshake(ctx context.Context) (*agentStatus, error) {
	hello := hubConnected{Name: c.cfg.name, Version: version, Platform: runtime.GOOS, HubID: c.cfg.hubID, Token: c.cfg.tokens.get(c.cfg.hubURL)}
	if err := c.send(c.id(), "hub_connected", hello); err != nil {
		return nil, err
	}
	codeUsed := false
	for ctx.Err() == nil {
		m, err := c.readOne(requestTimeout + time.Minute) // a human may be typing a code
		if err != nil {
			return nil, fmt.Errorf("handshake: %w", err)
		}
		switch m.Type {
		case "agent_status":
			var st agentStatus
			if err := json.Unmarshal(m.Payload, &st); err != nil {
				return nil, fmt.Errorf("agent_status: %w", err)
			}
			return &st, nil
		case "pairing_required":
			var p pairingRequired
			_ = json.Unmarshal(m.Payload, &p)
			code, err := c.pairingCode(p, codeUsed)
			if err != nil {
				return nil, err
			}
			codeUsed = true
			if err := c.send(c.id(), "pair_confirm", pairConfirm{Code: code}); err != nil {
				return nil, err
			}
		case "pair_success":
			var p pairSuccess
			if err := json.Unmarshal(m.Payload, &p); err != nil || p.Token == "" {
				return nil, fmt.Errorf("pair_success without a token")
			}
			if err := c.cfg.tokens.put(c.cfg.hubURL, p.Token); err != nil {
				return nil, err
			}
			fmt.Fprintln(c.stderr, "paired; token stored in", c.cfg.tokens.path)
		case "pair_failed":
			var p pairFailed
			_ = json.Unmarshal(m.Payload, &p)
			return nil, fmt.Errorf("pairing failed: %s", p.Reason)
		case "error":
			if m.Error != nil {
				return nil, m.Error
			}
			return nil, errors.New("hub answered with an error")
		case "ping":
			_ = c.send(m.ID, "pong", nil)
		}
	}
	return nil, ctx.Err()
}

// pairingCode is -code the first time, then a line from stdin.
func (c *client) pairingCode(p pairingRequired, codeUsed bool) (string, error) {
	if c.cfg.code != "" && !codeUsed {
		return c.cfg.code, nil
	}
	fmt.Fprintf(c.stderr, "Pairing required: type the code shown on the device (expires in %d s): ", p.ExpiresIn)
	line, err := c.stdin.ReadString('\n')
	if strings.TrimSpace(line) == "" && err != nil {
		return "", fmt.Errorf("no pairing code on stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func (c *client) readLoop() {
	defer close(c.done)
	extend := func() { _ = c.conn.SetReadDeadline(time.Now().Add(pongWait)) }
	extend()
	c.conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.fail(err)
			return
		}
		extend()
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			c.log.Warn("dropping a frame that is not JSON", "err", err)
			continue
		}
		c.dispatch(m)
	}
}

func (c *client) dispatch(m message) {
	switch m.Type {
	case "upload_progress", "operation_event":
		c.events(m)
		return
	case "ping":
		_ = c.send(m.ID, "pong", nil)
		return
	}
	c.mu.Lock()
	ch := c.pending[m.ID]
	delete(c.pending, m.ID)
	c.mu.Unlock()
	if ch == nil {
		c.log.Debug("unsolicited frame", "type", m.Type, "id", m.ID)
		return
	}
	ch <- m
}

func (c *client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readErr = err
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// pingLoop sends WebSocket pings every 5 s, as real controllers do.
func (c *client) pingLoop() {
	t := time.NewTicker(pingPeriod)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		}
	}
}

// expect registers a waiter for the answer with id.
func (c *client) expect(id string) (chan message, error) {
	ch := make(chan message, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErr != nil {
		return nil, fmt.Errorf("connection lost: %w", c.readErr)
	}
	c.pending[id] = ch
	return ch, nil
}

func (c *client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// wait returns the answer on ch, an error answer as *wireError.
func (c *client) wait(ctx context.Context, id string, ch chan message, timeout time.Duration) (message, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.readErr
			c.mu.Unlock()
			return m, fmt.Errorf("connection lost: %w", err)
		}
		if m.Error != nil {
			return m, m.Error
		}
		return m, nil
	case <-t.C:
		c.forget(id)
		return message{}, fmt.Errorf("no answer to %s within %s", id, timeout)
	case <-ctx.Done():
		c.forget(id)
		return message{}, ctx.Err()
	}
}

// call sends a request and waits for its answer.
func (c *client) call(ctx context.Context, typ string, payload any, timeout time.Duration) (message, error) {
	id := c.id()
	ch, err := c.expect(id)
	if err != nil {
		return message{}, err
	}
	if err := c.send(id, typ, payload); err != nil {
		c.forget(id)
		return message{}, err
	}
	return c.wait(ctx, id, ch, timeout)
}

func (c *client) Close() error {
	c.wmu.Lock()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.conn.Close()
}
