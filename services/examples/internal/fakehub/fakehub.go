// Package fakehub is a scripted stand-in for the Switchyard hub in the
// example programs' unit tests: an httptest server whose WebSocket
// connections the test drives frame by frame.
package fakehub

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
)

// Timeout bounds every wait of a test on the program under test.
const Timeout = 5 * time.Second

// Hub is the fake hub. Mux takes the test's REST handlers.
type Hub struct {
	*httptest.Server
	Mux   *http.ServeMux
	conns chan *Conn

	mu   sync.Mutex
	open []*Conn
}

// New starts a hub that accepts WebSocket connections on wsPath.
func New(t testing.TB, wsPath string) *Hub {
	t.Helper()
	h := &Hub{Mux: http.NewServeMux(), conns: make(chan *Conn, 16)}
	h.Mux.HandleFunc(wsPath, h.upgrade(t))
	h.Server = httptest.NewServer(h.Mux)
	t.Cleanup(h.close)
	return h
}

func (h *Hub) upgrade(t testing.TB) http.HandlerFunc {
	up := websocket.Upgrader{}
	return func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("fakehub: upgrade: %v", err)
			return
		}
		c := &Conn{ws: ws, Request: r, Frames: make(chan frame.Frame, 256)}
		h.mu.Lock()
		h.open = append(h.open, c)
		h.mu.Unlock()
		go c.read()
		h.conns <- c
	}
}

func (h *Hub) close() {
	h.mu.Lock()
	for _, c := range h.open {
		_ = c.ws.Close()
	}
	h.mu.Unlock()
	h.Server.Close()
}

// Accept waits for the next WebSocket connection.
func (h *Hub) Accept(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(Timeout):
		t.Fatal("fakehub: no connection")
		return nil
	}
}

// Conn is one accepted WebSocket connection. Frames receives what the
// program sends and is closed when the connection ends.
type Conn struct {
	ws      *websocket.Conn
	Request *http.Request
	Frames  chan frame.Frame
}

func (c *Conn) read() {
	defer close(c.Frames)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var f frame.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = frame.Frame{Type: "!invalid-json", Payload: data}
		}
		c.Frames <- f
	}
}

// Send writes a frame. seq 0 leaves it out.
func (c *Conn) Send(t testing.TB, typ, sessionID string, seq int64, payload any) {
	t.Helper()
	f := map[string]any{"type": typ, "ts": frame.Now()}
	if sessionID != "" {
		f["session_id"] = sessionID
	}
	if seq != 0 {
		f["seq"] = seq
	}
	if payload != nil {
		f["payload"] = payload
	}
	if err := c.ws.WriteJSON(f); err != nil {
		t.Fatalf("fakehub: send %s: %v", typ, err)
	}
}

// Next returns the next frame the program sent.
func (c *Conn) Next(t testing.TB) frame.Frame {
	t.Helper()
	select {
	case f, ok := <-c.Frames:
		if !ok {
			t.Fatal("fakehub: connection closed while waiting for a frame")
		}
		return f
	case <-time.After(Timeout):
		t.Fatal("fakehub: no frame")
	}
	return frame.Frame{}
}

// Expect returns the next frame, which must be of type typ.
func (c *Conn) Expect(t testing.TB, typ string) frame.Frame {
	t.Helper()
	f := c.Next(t)
	if f.Type != typ {
		t.Fatalf("fakehub: got %s frame %s, want %s", f.Type, f.Payload, typ)
	}
	return f
}

// Until collects frames up to and including the first of type typ.
func (c *Conn) Until(t testing.TB, typ string) []frame.Frame {
	t.Helper()
	var got []frame.Frame
	for {
		f := c.Next(t)
		got = append(got, f)
		if f.Type == typ {
			return got
		}
	}
}

// Drop cuts the connection without a close handshake.
func (c *Conn) Drop() { _ = c.ws.NetConn().Close() }

// Decode unmarshals f's payload or fails the test.
func Decode[T any](t testing.TB, f frame.Frame) T {
	t.Helper()
	var v T
	if err := f.Decode(&v); err != nil {
		t.Fatalf("fakehub: %v", err)
	}
	return v
}
