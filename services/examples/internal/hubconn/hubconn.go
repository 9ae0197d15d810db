// Package hubconn keeps a reconnecting WebSocket link to the hub for the
// example programs: dial, a handshake written before anything else, one
// reader and one writer goroutine per connection (gorilla allows a single
// concurrent writer), liveness pings, automatic pong to the dialect's ping
// frame, and exponential backoff between connections.
package hubconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
)

// Defaults of Config's timing fields.
const (
	DefaultPingInterval = 20 * time.Second
	DefaultReadTimeout  = 60 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	maxMessageSize      = 16 << 20
)

// Config describes a link. URL, Out and Handle are required.
type Config struct {
	URL    string
	Header http.Header
	// Out is the queue of frames to send; it outlives connections, so
	// frames queued while disconnected go out after the next handshake.
	Out <-chan frame.Out
	// Handshake runs on every new connection before the reader and writer
	// start; it may write and read the connection directly.
	Handshake func(ctx context.Context, conn *websocket.Conn) error
	// Handle receives every inbound frame but ping, on the reader
	// goroutine; it must not block for long. ctx ends with the connection.
	Handle func(ctx context.Context, f frame.Frame)

	Logger       *slog.Logger
	Backoff      Backoff // zero value: 250 ms to 10 s
	PingInterval time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Link is a reconnecting connection to the hub.
type Link struct {
	cfg     Config
	log     *slog.Logger
	ctrl    chan frame.Out // pongs, ahead of Out
	pending []byte         // a frame whose write failed, sent first on the next connection
}

// New validates cfg and fills its defaults.
func New(cfg Config) *Link {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Backoff.Min == 0 {
		cfg.Backoff.Min = 250 * time.Millisecond
	}
	if cfg.Backoff.Max == 0 {
		cfg.Backoff.Max = 10 * time.Second
	}
	cfg.PingInterval = orDefault(cfg.PingInterval, DefaultPingInterval)
	cfg.ReadTimeout = orDefault(cfg.ReadTimeout, DefaultReadTimeout)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, DefaultWriteTimeout)
	return &Link{cfg: cfg, log: cfg.Logger, ctrl: make(chan frame.Out, 8)}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// permanentError stops Run instead of reconnecting.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth a reconnect (a rejected hello, a bad
// token): Run returns it.
func Permanent(err error) error { return &permanentError{err: err} }

// Run connects, serves and reconnects until ctx is done (it then returns
// nil) or a connection fails with a Permanent error (returned unwrapped).
func (l *Link) Run(ctx context.Context) error {
	bo := l.cfg.Backoff
	for {
		err := l.connectAndServe(ctx, &bo)
		if ctx.Err() != nil {
			return nil
		}
		if p, ok := errors.AsType[*permanentError](err); ok {
			return p.err
		}
		d := bo.Next()
		l.log.Warn("no hub connection, retrying", "err", err, "in", d.Round(time.Millisecond))
		if sleep(ctx, d) != nil {
			return nil
		}
	}
}

func (l *Link) connectAndServe(ctx context.Context, bo *Backoff) error {
	conn, err := l.dial(ctx)
	if err != nil {
		return err
	}
	if l.cfg.Handshake != nil {
		if err := l.cfg.Handshake(ctx, conn); err != nil {
			_ = conn.Close()
			return fmt.Errorf("handshake: %w", err)
		}
	}
	bo.Reset()
	l.log.Info("connected to hub", "url", redact(l.cfg.URL))
	return l.serve(ctx, conn)
}

func (l *Link) dial(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: l.cfg.WriteTimeout, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, l.cfg.URL, l.cfg.Header)
	if err != nil {
		return nil, dialError(l.cfg.URL, resp, err)
	}
	conn.SetReadLimit(maxMessageSize)
	return conn, nil
}

func dialError(url string, resp *http.Response, err error) error {
	err = fmt.Errorf("dial %s: %w", redact(url), err)
	if resp == nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	err = fmt.Errorf("%w: HTTP %s %s", err, resp.Status, body)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return Permanent(err)
	}
	return err
}

// serve runs one connection until it fails or ctx is done.
func (l *Link) serve(ctx context.Context, conn *websocket.Conn) error {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		l.writeLoop(ctx, connCtx, conn)
	}()
	err := l.readLoop(connCtx, conn)
	cancel()
	<-writerDone
	return err
}

func (l *Link) readLoop(ctx context.Context, conn *websocket.Conn) error {
	extend := func() { _ = conn.SetReadDeadline(time.Now().Add(l.cfg.ReadTimeout)) }
	extend()
	conn.SetPongHandler(func(string) error { extend(); return nil })
	conn.SetPingHandler(func(data string) error {
		extend()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(l.cfg.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		extend()
		var f frame.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			l.log.Warn("dropping a frame that is not JSON", "err", err)
			continue
		}
		if f.Type == "ping" {
			l.queueControl(ctx, frame.Control("pong", nil))
			continue
		}
		l.cfg.Handle(ctx, f)
	}
}

func (l *Link) queueControl(ctx context.Context, f frame.Out) {
	select {
	case l.ctrl <- f:
	case <-ctx.Done():
	}
}

// writeLoop is the only writer of conn once the handshake is done. It
// closes conn when it returns, which ends readLoop.
func (l *Link) writeLoop(parent, ctx context.Context, conn *websocket.Conn) {
	defer conn.Close()
	if l.pending != nil {
		if err := l.write(conn, l.pending); err != nil {
			return
		}
		l.pending = nil
	}
	ping := time.NewTicker(l.cfg.PingInterval)
	defer ping.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				l.shutdown(conn)
			}
			return
		case f := <-l.ctrl:
			err = l.writeFrame(conn, f)
		case f := <-l.cfg.Out:
			err = l.writeFrame(conn, f)
		case <-ping.C:
			err = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(l.cfg.WriteTimeout))
		}
		if err != nil {
			l.log.Debug("write failed", "err", err)
			return
		}
	}
}

// shutdown flushes what is queued and says goodbye with a close frame.
func (l *Link) shutdown(conn *websocket.Conn) {
	for {
		select {
		case f := <-l.cfg.Out:
			if l.writeFrame(conn, f) != nil {
				return
			}
		default:
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
			_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		}
	}
}

func (l *Link) writeFrame(conn *websocket.Conn, f frame.Out) error {
	b, err := json.Marshal(f)
	if err != nil {
		l.log.Error("dropping a frame that cannot be encoded", "type", f.Type, "err", err)
		return nil
	}
	if err := l.write(conn, b); err != nil {
		l.pending = b
		return err
	}
	return nil
}

func (l *Link) write(conn *websocket.Conn, b []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(l.cfg.WriteTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// WriteFrame writes f on conn; for handshakes, before the writer starts.
func WriteFrame(conn *websocket.Conn, f frame.Out, timeout time.Duration) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode %s: %w", f.Type, err)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write %s: %w", f.Type, err)
	}
	return nil
}

// ReadFrame reads one frame from conn within timeout; for handshakes.
func ReadFrame(conn *websocket.Conn, timeout time.Duration) (frame.Frame, error) {
	var f frame.Frame
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := conn.ReadMessage()
	if err != nil {
		return f, fmt.Errorf("read: %w", err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}
