package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

// errSessionClosed ends the chat loop with exit status 0.
var errSessionClosed = errors.New("session closed")

// Error codes after which talking to the session is pointless.
var terminalCodes = []string{"auth_failed", "forbidden", "session_not_found", "session_closed"}

// chat is the state of one session's conversation. Everything but lastSeq
// belongs to the loop goroutine.
type chat struct {
	id      string
	ui      *ui
	log     *slog.Logger
	out     chan frame.Out
	lastSeq atomic.Int64 // highest transcript seq seen; read by the handshake

	sent         map[string]bool // message ids this client sent
	queue        []string        // lines waiting for the running turn to end
	awaiting     string          // our message whose turn.completed is due
	awaitingLine string
	started      bool // awaiting's turn.started arrived
	hold         bool // the hub said turn_in_progress: wait for a turn.completed
	prompts      []permissionRequest
	synced       bool // a complete history.response arrived
	eof          bool
	failed       bool // a message was rejected
}

func newChat(id string, afterSeq int64, ui *ui, log *slog.Logger) *chat {
	c := &chat{id: id, ui: ui, log: log, out: make(chan frame.Out, 64), sent: map[string]bool{}}
	c.lastSeq.Store(afterSeq)
	return c
}

// run connects and chats until the session closes, /quit, a fatal error,
// or stdin ended and nothing is outstanding.
func (c *chat) run(ctx context.Context, cfg config, stdin io.Reader) error {
	u, err := hubconn.WebSocketURL(cfg.hub, "/ws/client")
	if err != nil {
		return err
	}
	u.RawQuery = url.Values{"token": {cfg.token}}.Encode()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frames := make(chan frame.Frame, 64)
	link := hubconn.New(hubconn.Config{
		URL: u.String(), Out: c.out, Handshake: c.subscribe, Logger: c.log, Backoff: cfg.backoff,
		Handle: func(ctx context.Context, f frame.Frame) {
			select {
			case frames <- f:
			case <-ctx.Done(): // lost with the connection; the replay brings it back
			}
		},
	})
	var linkErr error
	linkDone := make(chan struct{})
	go func() {
		defer close(linkDone)
		linkErr = link.Run(ctx)
	}()
	err = c.loop(ctx, readLines(ctx, stdin, c.log), frames, linkDone, &linkErr)
	cancel() // the link flushes what is queued and closes
	<-linkDone
	if errors.Is(err, errSessionClosed) {
		return nil
	}
	return err
}

// subscribe is the handshake of every connection: resume after the last
// seq this client printed.
func (c *chat) subscribe(_ context.Context, conn *websocket.Conn) error {
	p := subscribe{SessionID: c.id, AfterSeq: c.lastSeq.Load()}
	c.log.Debug("subscribing", "session", c.id, "after_seq", p.AfterSeq)
	return hubconn.WriteFrame(conn, frame.New("client.subscribe", "", p), hubconn.DefaultWriteTimeout)
}

func (c *chat) loop(ctx context.Context, lines <-chan string, frames <-chan frame.Frame, linkDone <-chan struct{}, linkErr *error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-linkDone:
			if *linkErr != nil {
				return fmt.Errorf("hub connection: %w", *linkErr)
			}
			return ctx.Err()
		case line, ok := <-lines:
			if !ok {
				lines = nil
				c.onEOF(ctx)
			} else if quit := c.onLine(ctx, line); quit {
				return nil
			}
		case f := <-frames:
			if err := c.onFrame(ctx, f, true); err != nil {
				return err
			}
		}
		if c.eof && c.idle() {
			if c.failed {
				return errors.New("the hub rejected a message")
			}
			return nil
		}
	}
}

// idle: the transcript is caught up and no message of ours is outstanding.
func (c *chat) idle() bool { return c.synced && c.awaiting == "" && len(c.queue) == 0 }

// readLines feeds stdin's lines to the loop and closes the channel at EOF.
func readLines(ctx context.Context, r io.Reader, log *slog.Logger) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			log.Warn("reading stdin", "err", err)
		}
	}()
	return lines
}

func (c *chat) send(ctx context.Context, f frame.Out) {
	select {
	case c.out <- f:
	case <-ctx.Done():
	}
}

// onLine handles a line of stdin: a command, a permission answer or a
// message. It reports whether the user quit.
func (c *chat) onLine(ctx context.Context, line string) bool {
	switch strings.TrimSpace(line) {
	case "/quit":
		return true
	case "/stop":
		c.send(ctx, frame.New("stop.request", c.id, sessionRef{SessionID: c.id}))
		return false
	case "/close":
		c.send(ctx, frame.New("session.close", c.id, sessionRef{SessionID: c.id, Reason: "user_requested"}))
		return false
	case "":
		return false
	}
	if len(c.prompts) > 0 {
		c.answerPrompt(ctx, line)
		return false
	}
	c.queue = append(c.queue, line)
	c.pump(ctx)
	return false
}

// pump sends the next queued line unless a turn of ours is outstanding.
func (c *chat) pump(ctx context.Context) {
	if c.awaiting != "" || c.hold || len(c.queue) == 0 {
		return
	}
	line := c.queue[0]
	c.queue = c.queue[1:]
	id := frame.NewID()
	c.sent[id] = true
	c.awaiting, c.awaitingLine, c.started = id, line, false
	c.send(ctx, frame.New("user.message", c.id, userMessage{SessionID: c.id, MessageID: id, Content: line}))
}

// onEOF: no more input. Pending permission prompts are denied, since
// nobody is left to answer them.
func (c *chat) onEOF(ctx context.Context) {
	c.eof = true
	for _, p := range c.prompts {
		c.respond(ctx, p, false, "denied: stdin is closed")
	}
	c.prompts = nil
}

// onFrame handles a live frame (live) or one replayed from history.
func (c *chat) onFrame(ctx context.Context, f frame.Frame, live bool) error {
	if f.Seq > 0 {
		if f.Seq <= c.lastSeq.Load() {
			c.log.Debug("skipping a frame already seen", "type", f.Type, "seq", f.Seq)
			return nil
		}
		c.lastSeq.Store(f.Seq)
	}
	var err error
	switch f.Type {
	case "history.response":
		err = c.onHistory(ctx, f)
	case "agent.output":
		err = c.onOutput(f)
	case "turn.started", "turn.completed":
		err = c.onTurn(ctx, f)
	case "user.message":
		err = c.onUserMessage(f)
	case "permission.request":
		err = c.onPermission(ctx, f, live)
	case "session.closed":
		return c.onClosed(f)
	case "error":
		return c.onError(ctx, f)
	case "pong":
	default:
		c.log.Debug("ignoring frame", "type", f.Type)
	}
	if err != nil {
		c.log.Warn("bad frame", "type", f.Type, "err", err)
	}
	return nil
}

func (c *chat) onHistory(ctx context.Context, f frame.Frame) error {
	var h historyResponse
	if err := f.Decode(&h); err != nil {
		return err
	}
	for i, raw := range h.Messages {
		var m frame.Frame
		if err := json.Unmarshal(raw, &m); err != nil {
			c.log.Warn("bad history message", "index", i, "err", err)
			continue
		}
		if err := c.onFrame(ctx, m, false); err != nil {
			return err
		}
	}
	if h.HasMore {
		// Ask for the next page: subscribing again resumes after our seq.
		c.send(ctx, frame.New("client.subscribe", "", subscribe{SessionID: c.id, AfterSeq: c.lastSeq.Load()}))
		return nil
	}
	c.synced = true
	return nil
}

func (c *chat) onOutput(f frame.Frame) error {
	var o agentOutput
	if err := f.Decode(&o); err != nil {
		return err
	}
	c.ui.output(o.Channel, o.Content)
	return nil
}

func (c *chat) onTurn(ctx context.Context, f frame.Frame) error {
	var t turnEvent
	if err := f.Decode(&t); err != nil {
		return err
	}
	ours := t.InResponseTo != "" && t.InResponseTo == c.awaiting
	if f.Type == "turn.started" {
		c.ui.status("── turn started")
		c.started = c.started || ours
		return nil
	}
	if t.ExitCode != nil {
		c.ui.status("── turn completed (exit %d)", *t.ExitCode)
	} else {
		c.ui.status("── turn completed")
	}
	c.hold = false
	if ours {
		c.awaiting = ""
	}
	c.pump(ctx)
	return nil
}

func (c *chat) onUserMessage(f frame.Frame) error {
	var m userMessage
	if err := f.Decode(&m); err != nil {
		return err
	}
	if !c.sent[m.MessageID] {
		c.ui.status("user> %s", m.Content)
	}
	return nil
}

func (c *chat) onPermission(ctx context.Context, f frame.Frame, live bool) error {
	var p permissionRequest
	if err := f.Decode(&p); err != nil {
		return err
	}
	p.SessionID = cmp.Or(p.SessionID, f.SessionID, c.id)
	switch {
	case !live:
		c.ui.status("permission asked: %s %s", p.Tool, p.Description)
	case c.eof:
		c.respond(ctx, p, false, "denied: stdin is closed")
	default:
		c.prompts = append(c.prompts, p)
		if len(c.prompts) == 1 {
			c.showPrompt(p)
		}
	}
	return nil
}

func (c *chat) showPrompt(p permissionRequest) {
	what := p.Description
	if p.Resource != "" {
		what += " (" + p.Resource + ")"
	}
	c.ui.prompt("permission: %s wants to %s. Allow? [y/N] ", p.Tool, what)
}

func (c *chat) answerPrompt(ctx context.Context, line string) {
	p := c.prompts[0]
	c.prompts = c.prompts[1:]
	answer := strings.ToLower(strings.TrimSpace(line))
	approved := answer == "y" || answer == "yes"
	c.respond(ctx, p, approved, map[bool]string{true: "approved", false: "denied"}[approved])
	if len(c.prompts) > 0 {
		c.showPrompt(c.prompts[0])
	}
}

func (c *chat) respond(ctx context.Context, p permissionRequest, approved bool, note string) {
	c.ui.status("permission %s: %s", p.RequestID, note)
	c.send(ctx, frame.New("permission.response", p.SessionID, permissionResponse{
		SessionID: p.SessionID, RequestID: p.RequestID, Approved: approved,
	}))
}

func (c *chat) onClosed(f frame.Frame) error {
	var p sessionRef
	if len(f.Payload) > 0 {
		_ = f.Decode(&p) // the reason is optional
	}
	if p.Reason != "" {
		c.ui.status("session closed (%s)", p.Reason)
	} else {
		c.ui.status("session closed")
	}
	return errSessionClosed
}

// onError prints a hub error. The error frame names no message, so one
// arriving before our outstanding message's turn started is taken as its
// rejection: turn_in_progress requeues it for after the running turn.
func (c *chat) onError(ctx context.Context, f frame.Frame) error {
	var e errorPayload
	if err := f.Decode(&e); err != nil {
		c.log.Warn("bad error frame", "err", err)
	}
	c.ui.errorf("error %s: %s", e.Code, e.Message)
	if slices.Contains(terminalCodes, e.Code) {
		return fmt.Errorf("session %s: %s: %s", c.id, e.Code, e.Message)
	}
	if c.awaiting == "" || c.started {
		return nil
	}
	if e.Code == "turn_in_progress" {
		c.queue = append([]string{c.awaitingLine}, c.queue...)
		c.hold = true
	} else {
		c.failed = true
	}
	c.awaiting = ""
	c.pump(ctx)
	return nil
}
