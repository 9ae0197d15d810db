// Package wspeer is the WebSocket client the end-to-end and cluster tests
// drive the hub with: it reads in the background so a test waits on the
// frame it expects, with a deadline, never on a sleep.
package wspeer

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Peer is one client socket.
type Peer struct {
	t    testing.TB
	Conn *websocket.Conn
	// Frames receives every JSON frame but pings; it is closed when the
	// socket ends.
	Frames chan map[string]any
	// Limit bounds every wait.
	Limit time.Duration

	closed chan error
	wmu    sync.Mutex
}

// Dial connects to url; the socket is closed when the test ends.
func Dial(t testing.TB, url string, limit time.Duration) *Peer {
	t.Helper()
	return dialWith(t, websocket.DefaultDialer, url, limit)
}

// DialCorked is Dial over a connection whose writes Burst can gather into
// one: the frames of a burst reach the hub in one segment, as a runtime
// streaming faster than its gateway reads does.
func DialCorked(t testing.TB, url string, limit time.Duration) *Peer {
	t.Helper()
	d := *websocket.DefaultDialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &corkConn{Conn: c}, nil
	}
	return dialWith(t, &d, url, limit)
}

func dialWith(t testing.TB, d *websocket.Dialer, url string, limit time.Duration) *Peer {
	t.Helper()
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	p := &Peer{t: t, Conn: c, Frames: make(chan map[string]any, 1<<16), Limit: limit, closed: make(chan error, 1)}
	go p.readLoop()
	t.Cleanup(func() { _ = c.Close() })
	return p
}

// Burst writes frames (as Send) in one write to the socket; the peer must
// come from DialCorked.
func (p *Peer) Burst(frames ...any) error {
	cc, ok := p.Conn.NetConn().(*corkConn)
	if !ok {
		return errors.New("wspeer: Burst on a peer not from DialCorked")
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	cc.cork()
	for _, f := range frames {
		if err := p.write(f); err != nil {
			_ = cc.uncork()
			return err
		}
	}
	return cc.uncork()
}

// corkConn gathers writes between cork and uncork into one.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	buf := c.buf
	c.buf = nil
	_, err := c.Conn.Write(buf)
	return err
}

func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// DialNoRead connects a client that never reads (so it never answers
// pings and never drains its socket).
func DialNoRead(url string) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial(url, nil)
}

func (p *Peer) readLoop() {
	for {
		_, data, err := p.Conn.ReadMessage()
		if err != nil {
			p.closed <- err
			close(p.Frames)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			p.t.Errorf("hub sent a frame that is not JSON: %q", data)
			continue
		}
		if m["type"] != "ping" {
			p.Frames <- m
		}
	}
}

// Send writes a frame: a string as it is, anything else as JSON.
func (p *Peer) Send(frame any) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.write(frame)
}

func (p *Peer) write(frame any) error {
	if s, ok := frame.(string); ok {
		return p.Conn.WriteMessage(websocket.TextMessage, []byte(s))
	}
	return p.Conn.WriteJSON(frame)
}

// MustSend is Send that fails the test on error.
func (p *Peer) MustSend(frame any) {
	p.t.Helper()
	if err := p.Send(frame); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

// Next returns the next frame; the test fails if none comes in Limit or
// the socket closes.
func (p *Peer) Next() map[string]any {
	p.t.Helper()
	m := p.NextWithin(p.Limit)
	if m == nil {
		p.t.Fatalf("socket closed while waiting for a frame")
	}
	return m
}

// NextWithin returns the next frame, or nil when the socket closed; the
// test fails if nothing happens within d.
func (p *Peer) NextWithin(d time.Duration) map[string]any {
	p.t.Helper()
	select {
	case m := <-p.Frames:
		return m
	case <-time.After(d):
		p.t.Fatalf("no frame within %s", d)
	}
	return nil
}

// Expect returns the next frame and checks its type.
func (p *Peer) Expect(typ string) map[string]any {
	p.t.Helper()
	m := p.Next()
	if m["type"] != typ {
		p.t.Fatalf("want a %s frame, got %v", typ, m)
	}
	return m
}

// ExpectSkipping is Expect, passing over frames of the skip types first.
func (p *Peer) ExpectSkipping(typ string, skip ...string) map[string]any {
	p.t.Helper()
	for {
		m := p.Next()
		if m["type"] == typ {
			return m
		}
		ok := false
		for _, s := range skip {
			ok = ok || m["type"] == s
		}
		if !ok {
			p.t.Fatalf("want a %s frame, got %v", typ, m)
		}
	}
}

// CloseCode waits for the hub to close the socket and returns the close
// code (-1 when it ended without a close frame).
func (p *Peer) CloseCode() int {
	p.t.Helper()
	deadline := time.After(p.Limit)
	for {
		select {
		case _, ok := <-p.Frames:
			if ok {
				continue
			}
			if ce, ok := (<-p.closed).(*websocket.CloseError); ok {
				return ce.Code
			}
			return -1
		case <-deadline:
			p.t.Fatalf("socket not closed within %s", p.Limit)
		}
	}
}

// Payload is a frame's payload object (nil if absent).
func Payload(m map[string]any) map[string]any {
	p, _ := m["payload"].(map[string]any)
	return p
}

// ExpectAll waits for one frame of each of types, in any order (frames
// that travel different paths, e.g. a transcript echo and a directed
// error), passing over frames of the skip types.
func (p *Peer) ExpectAll(types []string, skip ...string) map[string]map[string]any {
	p.t.Helper()
	got := map[string]map[string]any{}
	for len(got) < len(types) {
		m := p.Next()
		typ, _ := m["type"].(string)
		want := false
		for _, w := range types {
			want = want || (w == typ && got[typ] == nil)
		}
		switch {
		case want:
			got[typ] = m
		case contains(skip, typ):
		default:
			p.t.Fatalf("want frames %v, got %v", types, m)
		}
	}
	return got
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
