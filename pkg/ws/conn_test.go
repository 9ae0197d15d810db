package ws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

func opts() ws.Options {
	return ws.Options{
		PingPeriod: time.Hour, PongWait: time.Hour, WriteWait: 5 * time.Second,
		MaxMessageBytes: 1 << 20, QueueFrames: 1 << 14, QueueBytes: 64 << 20,
	}
}

// served is the server side of one test socket.
type served struct {
	conn    *ws.Conn
	frames  chan []byte // frames ReadLoop delivered
	readErr chan error  // what ReadLoop returned
	readEnd time.Time
}

// serve starts an httptest server whose handler wraps each upgraded socket
// with ws.New and runs ReadLoop; setup runs before ReadLoop.
func serve(t *testing.T, o ws.Options, setup func(*ws.Conn)) (url string, conns chan *served) {
	t.Helper()
	conns = make(chan *served, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := ws.Upgrade(ws.Upgrader(), w, r) // as the gateway upgrades
		if err != nil {
			return
		}
		s := &served{conn: ws.New(raw, o), frames: make(chan []byte, 1024), readErr: make(chan error, 1)}
		if setup != nil {
			setup(s.conn)
		}
		conns <- s
		err = s.conn.ReadLoop(func(binary bool, data []byte) {
			if binary {
				data = append([]byte("bin:"), data...)
			}
			s.frames <- data
		})
		s.readEnd = time.Now()
		s.readErr <- err
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), conns
}

var dial = ws.DialPeer

func accept(t *testing.T, conns chan *served) *served {
	t.Helper()
	select {
	case s := <-conns:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

func frame(i, size int) []byte {
	b := []byte(fmt.Sprintf("%08d:", i))
	return append(b, bytes.Repeat([]byte{'x'}, max(0, size-len(b)))...)
}

func index(t *testing.T, data []byte) int {
	t.Helper()
	n, err := strconv.Atoi(string(data[:8]))
	if err != nil {
		t.Fatalf("frame %q", data[:min(len(data), 20)])
	}
	return n
}

// Frames go out in the order they were queued, text and binary kept apart,
// and frames from the peer reach the ReadLoop callback in order.
func TestFramesInOrder(t *testing.T) {
	url, conns := serve(t, opts(), nil)
	c := dial(t, url)
	s := accept(t, conns)
	const n = 500
	sent := make([][]byte, n)
	for i := range sent {
		sent[i] = frame(i, 1+(i*37)%3000)
	}
	go func() {
		for i, f := range sent {
			send := s.conn.Send
			if i%50 == 49 {
				send = s.conn.SendBinary
			}
			if err := send(f); err != nil {
				t.Errorf("Send %d: %v", i, err)
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < n; i++ {
		typ, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got := index(t, data); got != i {
			t.Fatalf("frame %d arrived as #%d", got, i)
		}
		wantTyp := websocket.TextMessage
		if i%50 == 49 {
			wantTyp = websocket.BinaryMessage
		}
		if typ != wantTyp || !bytes.Equal(data, sent[i]) {
			t.Fatalf("frame %d: type %d, %d bytes; want type %d, %d bytes", i, typ, len(data), wantTyp, len(sent[i]))
		}
	}
	for i := 0; i < 100; i++ {
		if err := c.WriteMessage(websocket.TextMessage, frame(i, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("b")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		select {
		case data := <-s.frames:
			if index(t, data) != i {
				t.Fatalf("peer frame %d arrived as #%d", index(t, data), i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("peer frame %d not delivered", i)
		}
	}
	if data := <-s.frames; string(data) != "bin:b" {
		t.Errorf("binary peer frame = %q", data)
	}
	if s.conn.RemoteAddr() == "" {
		t.Error("no remote address")
	}
}

// A peer that stops reading: once its queue overflows, the socket is
// dropped with 4008, OnOverflow fires exactly once, later Sends fail with
// ErrClosed, and Send itself does not block (the gateway calls it while
// fanning a frame out to every subscriber of a session).
func TestSlowConsumerOverflow(t *testing.T) {
	o := opts()
	o.QueueFrames, o.QueueBytes, o.WriteWait = 8, 4<<20, 3*time.Second // 8 × 64 KiB fit the bytes
	var overflows atomic.Int32
	overflowed := make(chan struct{}, 4)
	url, conns := serve(t, o, func(c *ws.Conn) {
		c.OnOverflow = func() { overflows.Add(1); overflowed <- struct{}{} }
	})
	c := dial(t, url)
	s := accept(t, conns)

	// The client reads nothing while the hub sends 64 KiB frames.
	type result struct {
		sent    int
		queued  int // frames queued when the overflowing Send came
		err     error
		took    time.Duration
		errTail []error
	}
	res := make(chan result, 1)
	go func() {
		stuck := false
		for i := 0; i < 100000; i++ {
			// Keep pace with the writer until it is stuck on the full TCP
			// socket (the queue stops draining), so the overflow is that
			// of a peer that stopped reading, not of a burst.
			if !stuck {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				stuck = s.conn.WaitQueueBelow(ctx, 1) != nil
				cancel()
			}
			queued, _ := s.conn.Queued()
			start := time.Now()
			if err := s.conn.Send(frame(i, 64<<10)); err != nil {
				if !stuck {
					res <- result{sent: i, err: fmt.Errorf("overflow before the writer was stuck: %w", err)}
					return
				}
				r := result{sent: i, queued: queued, err: err, took: time.Since(start)}
				for j := 0; j < 3; j++ {
					r.errTail = append(r.errTail, s.conn.Send(frame(i+1+j, 10)))
				}
				res <- r
				return
			}
		}
		res <- result{sent: 100000}
	}()
	var r result
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("queue never overflowed although the peer reads nothing")
	}
	if !errors.Is(r.err, ws.ErrOverflow) {
		t.Fatalf("after %d frames Send returned %v, want ErrOverflow", r.sent, r.err)
	}
	if r.queued != o.QueueFrames {
		t.Errorf("overflow with %d frames queued, want the limit of %d", r.queued, o.QueueFrames)
	}
	for _, err := range r.errTail {
		if !errors.Is(err, ws.ErrClosed) {
			t.Errorf("Send after overflow = %v, want ErrClosed", err)
		}
	}
	if r.took > time.Second {
		t.Errorf("the overflowing Send blocked for %v (WriteWait %v): Send must never block", r.took, o.WriteWait)
	}

	// The peer wakes up: it gets an unbroken run of frames from the start,
	// then the 4008 close.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	next := 0
	var closeErr *websocket.CloseError
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("after %d frames: %v, want a close frame", next, err)
			}
			break
		}
		if got := index(t, data); got != next {
			t.Fatalf("frame %d arrived as #%d", got, next)
		}
		next++
	}
	if closeErr.Code != ws.CloseSlowConsumer {
		t.Errorf("close code %d (%q), want %d", closeErr.Code, closeErr.Text, ws.CloseSlowConsumer)
	}
	if next > r.sent {
		t.Errorf("peer got %d frames, only %d were accepted", next, r.sent)
	}
	select {
	case <-s.conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not finished after overflow")
	}
	if n := overflows.Load(); n != 1 {
		t.Errorf("OnOverflow fired %d times, want 1", n)
	}
	if _, b := s.conn.Queued(); b != 0 {
		t.Errorf("%d bytes still queued on a dropped socket", b)
	}
}

// QueueBytes bounds the backlog, not one frame: a frame larger than the
// limit is taken when nothing waits (a big file), and delivered intact;
// bytes piling up behind a stuck writer overflow the socket with 4008.
func TestOverflowByBytes(t *testing.T) {
	o := opts()
	o.QueueBytes = 100 << 10
	var overflows atomic.Int32
	url, conns := serve(t, o, func(c *ws.Conn) { c.OnOverflow = func() { overflows.Add(1) } })
	c := dial(t, url)
	s := accept(t, conns)
	big := frame(0, 300<<10)
	if err := s.conn.Send(big); err != nil {
		t.Fatalf("Send(300 KiB) into an empty 100 KiB queue = %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, data, err := c.ReadMessage(); err != nil || !bytes.Equal(data, big) {
		t.Fatalf("big frame: %d bytes, %v", len(data), err)
	}

	// Stall the writer (the client stops reading), then queue 2 × 64 KiB.
	i := 1
	for ; ; i++ {
		if err := s.conn.Send(frame(i, 64<<10)); err != nil {
			t.Fatalf("Send %d while keeping pace: %v", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		stuck := s.conn.WaitQueueBelow(ctx, 1) != nil
		cancel()
		if stuck {
			break
		}
		if i > 10000 {
			t.Fatal("the writer never got stuck although the peer reads nothing")
		}
	}
	var err error
	for j := 1; j <= 3 && err == nil; j++ {
		err = s.conn.Send(frame(i+j, 64<<10))
	}
	if !errors.Is(err, ws.ErrOverflow) {
		t.Fatalf("64 KiB frames behind a stuck writer with a 100 KiB budget: %v, want ErrOverflow", err)
	}
	if overflows.Load() != 1 {
		t.Errorf("OnOverflow fired %d times", overflows.Load())
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != ws.CloseSlowConsumer {
			t.Errorf("peer read %v, want close %d", err, ws.CloseSlowConsumer)
		}
		break
	}
}

// Close sends what is queued, then the close frame with the code and
// reason, and ends the socket as soon as the peer answers the close.
func TestCloseFlushesQueueFirst(t *testing.T) {
	url, conns := serve(t, opts(), nil)
	c := dial(t, url)
	s := accept(t, conns)
	const n = 200
	for i := 0; i < n; i++ {
		if err := s.conn.Send(frame(i, 2000)); err != nil {
			t.Fatal(err)
		}
	}
	s.conn.Close(ws.CloseGoingAway, "pod draining")
	if err := s.conn.Send(frame(n, 10)); !errors.Is(err, ws.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	s.conn.Close(ws.CloseInternal, "second close is ignored")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; ; i++ {
		_, data, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != ws.CloseGoingAway || ce.Text != "pod draining" {
				t.Fatalf("after %d frames: %v, want close 1001 \"pod draining\"", i, err)
			}
			if i != n {
				t.Fatalf("close arrived after %d of %d queued frames", i, n)
			}
			break
		}
		if index(t, data) != i {
			t.Fatalf("frame %d arrived as #%d", index(t, data), i)
		}
	}
	// The client answered the close (gorilla does when it reads one): the
	// socket ends without waiting out the grace period.
	start := time.Now()
	select {
	case <-s.conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not finished after the peer answered the close")
	}
	if el := time.Since(start); el > 700*time.Millisecond {
		t.Errorf("socket ended %v after the peer's close reply", el)
	}
	select {
	case err := <-s.readErr:
		if !websocket.IsCloseError(err, ws.CloseGoingAway) {
			t.Errorf("ReadLoop ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLoop did not end")
	}
}

// A peer that never answers the close is cut off after the grace period.
func TestCloseGraceWithoutReply(t *testing.T) {
	url, conns := serve(t, opts(), nil)
	_ = dial(t, url) // never reads, so never answers the close
	s := accept(t, conns)
	start := time.Now()
	s.conn.Close(ws.CloseNormal, "bye")
	select {
	case <-s.conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket never finished")
	}
	if el := time.Since(start); el < 500*time.Millisecond || el > 3*time.Second {
		t.Errorf("finished after %v, want about the 1s grace period", el)
	}
}

// A frame over MaxMessageBytes ends the socket with 1009.
func TestReadLimit(t *testing.T) {
	o := opts()
	o.MaxMessageBytes = 1024
	url, conns := serve(t, o, nil)
	c := dial(t, url)
	s := accept(t, conns)
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	select {
	case data := <-s.frames:
		if len(data) != 1024 {
			t.Fatalf("frame of %d bytes", len(data))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("frame at the limit not delivered")
	}
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 1025)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.CloseTooBig {
		t.Errorf("peer read %v, want close %d", err, ws.CloseTooBig)
	}
	select {
	case err := <-s.readErr:
		if !errors.Is(err, websocket.ErrReadLimit) {
			t.Errorf("ReadLoop returned %v, want ErrReadLimit", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLoop did not end")
	}
	select {
	case <-s.conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not finished")
	}
	select {
	case data := <-s.frames:
		t.Errorf("oversized frame delivered (%d bytes)", len(data))
	default:
	}
}

// A peer that answers no pings (it reads nothing) is dropped within
// PongWait; one that reads (and so answers pings) stays.
func TestSilentPeerDropped(t *testing.T) {
	o := opts()
	o.PingPeriod, o.PongWait = 50*time.Millisecond, 400*time.Millisecond
	url, conns := serve(t, o, nil)

	// A live peer first: reading makes gorilla answer pings.
	liveStart := time.Now()
	live := dial(t, url)
	ls := accept(t, conns)
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		for {
			if _, _, err := live.ReadMessage(); err != nil {
				return
			}
		}
	}()

	_ = dial(t, url) // never reads: never answers a ping
	ss := accept(t, conns)
	start := time.Now()
	select {
	case err := <-ss.readErr:
		el := ss.readEnd.Sub(start)
		if el > o.PongWait+400*time.Millisecond {
			t.Errorf("silent peer dropped after %v, PongWait %v", el, o.PongWait)
		}
		if el < o.PongWait-100*time.Millisecond {
			t.Errorf("silent peer dropped after %v, before PongWait %v (%v)", el, o.PongWait, err)
		}
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("ReadLoop ended with %v, want a read timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent peer never dropped")
	}
	select {
	case <-ss.conn.Done():
	case <-time.After(time.Second):
		t.Error("silent socket not finished")
	}
	// The live peer has outlived a PongWait by now (it connected before the
	// silent one, whose read deadline ran out).
	if el := time.Since(liveStart); el < o.PongWait {
		t.Fatalf("test ran only %v", el)
	}
	select {
	case err := <-ls.readErr:
		t.Errorf("a peer answering pings was dropped: %v", err)
	default:
	}
	ls.conn.Close(ws.CloseNormal, "")
	<-liveDone
}

// WaitQueueBelow follows the peer's pace: it blocks while the queue holds
// too much and returns when the writer drains it, or with ErrClosed / the
// context's error.
func TestWaitQueueBelow(t *testing.T) {
	url, conns := serve(t, opts(), nil)
	c := dial(t, url)
	s := accept(t, conns)
	// Below the threshold: no wait.
	if err := s.conn.WaitQueueBelow(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing. Queued counts frames the writer has not
	// taken yet (it takes the whole queue as one batch), so first keep
	// pace with the writer until it is stuck on the full TCP socket, then
	// queue more than the threshold behind it.
	i := 0
	for ; ; i++ {
		if err := s.conn.Send(frame(i, 64<<10)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		stuck := s.conn.WaitQueueBelow(ctx, 1) != nil
		cancel()
		if stuck {
			break
		}
		if i > 10000 {
			t.Fatal("the writer never got stuck although the peer reads nothing")
		}
	}
	for j := 0; j < 24; j++ { // 1.5 MiB behind the stuck writer
		if err := s.conn.Send(frame(i+1+j, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if _, queued := s.conn.Queued(); queued < 1<<20 {
		t.Fatalf("only %d bytes queued behind a stuck writer", queued)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.conn.WaitQueueBelow(ctx, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitQueueBelow with a stalled peer = %v, want the context's error", err)
	}
	// The client reads: the wait ends.
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := s.conn.WaitQueueBelow(ctx2, 1<<20); err != nil {
		t.Fatalf("WaitQueueBelow with a reading peer = %v", err)
	}
	if _, b := s.conn.Queued(); b >= 1<<20 {
		t.Errorf("returned with %d bytes queued", b)
	}
	s.conn.Close(ws.CloseNormal, "")
	<-s.conn.Done()
	if err := s.conn.WaitQueueBelow(context.Background(), 0); !errors.Is(err, ws.ErrClosed) {
		t.Errorf("WaitQueueBelow on a finished socket = %v, want ErrClosed", err)
	}
}
