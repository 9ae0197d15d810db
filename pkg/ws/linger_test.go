package ws

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// writer says whether the socket's writer runs and lingers, read under its lock.
func (c *Conn) writer() (running, lingering bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing, c.lingers
}

// A socket that gets a frame every few milliseconds keeps one writer
// goroutine (started once, not once per frame); a moment after its last
// frame it has none; and a ping or a close wakes a lingering writer.
func TestWriterLingers(t *testing.T) {
	ps := startParked(t, parkOpts(), false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	started := writersStarted.Load() // no other test runs alongside (none is parallel)
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
	if n := writersStarted.Load() - started; n != 1 {
		t.Fatalf("%d writer goroutines started for %d frames, want 1", n, frames)
	}
	eventually(t, "the writer ended after the linger", func() bool { running, _ := c.writer(); return !running })

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
	eventually(t, "the writer lingering", func() bool { _, lingering := c.writer(); return lingering })
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
	if n := writersStarted.Load() - started; n != 2 {
		t.Fatalf("%d writer goroutines started, want 2", n)
	}
}
