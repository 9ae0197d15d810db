package ws

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// writer is what the socket's writer state says, read under its lock.
type writer struct {
	running, lingering bool
	started            int
}

func (c *Conn) writer() writer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return writer{running: c.writing, lingering: c.lingers, started: c.started}
}

// A socket that gets a frame every few milliseconds keeps one writer
// goroutine (started once, not once per frame); a moment after its last
// frame it has none; and a ping or a close wakes a lingering writer.
func TestWriterLingers(t *testing.T) {
	ps := startParked(t, parkOpts(), false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	const frames = 30
	for i := range frames {
		if err := c.Send(fmt.Appendf(nil, "f%d", i)); err != nil {
			t.Fatal(err)
		}
		// The peer has the frame: the writer's queue is empty again.
		if _, data, err := peer.ReadMessage(); err != nil || string(data) != fmt.Sprintf("f%d", i) {
			t.Fatalf("frame %d: %q, %v", i, data, err)
		}
	}
	if w := c.writer(); w.started != 1 {
		t.Fatalf("%d writer goroutines started for %d frames, want 1", w.started, frames)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.writer().running {
		if time.Now().After(deadline) {
			t.Fatal("the writer still runs 5 s after the last frame")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}

	// A ping and a close wake a lingering writer: with a linger longer
	// than the test, they reach the peer only if they do.
	writerLinger = time.Hour
	t.Cleanup(func() { writerLinger = 200 * time.Millisecond })
	if err := c.Send([]byte("again")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := peer.ReadMessage(); err != nil || string(data) != "again" {
		t.Fatalf("got %q, %v", data, err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for !c.writer().lingering {
		if time.Now().After(deadline) {
			t.Fatal("the writer does not linger after its frame")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	pinged := make(chan struct{}, 1)
	peer.SetPingHandler(func(string) error { pinged <- struct{}{}; return nil })
	c.ping()
	c.Close(CloseSlowConsumer, "bye")
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := peer.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != CloseSlowConsumer {
		t.Fatalf("want close %d, got %v", CloseSlowConsumer, err)
	}
	select {
	case <-pinged:
	default:
		t.Fatal("the ping queued while the writer lingered was not sent")
	}
	if w := c.writer(); w.started != 2 {
		t.Fatalf("%d writer goroutines started, want 2", w.started)
	}
}
