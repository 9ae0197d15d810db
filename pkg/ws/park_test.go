package ws

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func parkOpts() Options {
	return Options{PingPeriod: time.Hour, PongWait: time.Hour, WriteWait: 5 * time.Second,
		MaxMessageBytes: 1 << 16, QueueFrames: 64, QueueBytes: 1 << 20}
}

// parkedServer is the server side of sockets served as the gateway serves
// them (Upgrade, then Serve); gorillaOnly upgrades with gorilla's own
// buffer instead, so the socket never parks.
type parkedServer struct {
	url     string
	addr    string
	conns   chan *Conn
	frames  chan string // "text:…" / "binary:…" in the order fn saw them
	ends    chan error
	mu      sync.Mutex
	readers map[*Conn]int // fn calls running per socket (never > 1)
}

func startParked(t testing.TB, o Options, gorillaOnly bool) *parkedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &parkedServer{url: "ws://" + ln.Addr().String() + "/", addr: ln.Addr().String(),
		conns: make(chan *Conn, 64), frames: make(chan string, 4096), ends: make(chan error, 64), readers: map[*Conn]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw *websocket.Conn
		var err error
		if gorillaOnly {
			raw, err = Upgrader().Upgrade(w, r, nil)
		} else {
			raw, err = Upgrade(Upgrader(), w, r)
		}
		if err != nil {
			return
		}
		c := New(raw, o)
		ps.conns <- c
		c.Serve(func(binary bool, data []byte) {
			ps.mu.Lock()
			ps.readers[c]++
			if ps.readers[c] > 1 {
				t.Error("two frames handed to fn at once")
			}
			ps.mu.Unlock()
			kind := "text:"
			if binary {
				kind = "binary:"
			}
			ps.frames <- kind + string(data)
			ps.mu.Lock()
			ps.readers[c]--
			ps.mu.Unlock()
		}, func(err error) { ps.ends <- err })
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ps
}

func (ps *parkedServer) accept(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-ps.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

func (ps *parkedServer) frame(t testing.TB) string {
	t.Helper()
	select {
	case f := <-ps.frames:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
		return ""
	}
}

func (ps *parkedServer) end(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ps.ends:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not end")
		return nil
	}
}

// waitParked waits until c's reader holds no goroutine.
func waitParked(t testing.TB, c *Conn) {
	t.Helper()
	eventually(t, "socket parked", func() bool { return c.rstate.Load() == readParked })
}

// eventually waits up to 5 s for cond, checking it every millisecond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 5 s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func dialPeer(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func needPoller(t testing.TB) {
	if runtime.GOOS != "linux" {
		t.Skip("sockets park only on Linux (epoll); elsewhere each keeps its reader goroutine")
	}
}

// An idle socket holds no goroutine: after every frame the reader parks,
// and the next frame wakes it; frames arrive in order, one at a time.
func TestIdleSocketParks(t *testing.T) {
	needPoller(t)
	ps := startParked(t, parkOpts(), false)
	const sockets = 20
	before := runtime.NumGoroutine() // the peers below hold no goroutine: only the server's sockets count
	peers := make([]*websocket.Conn, sockets)
	conns := make([]*Conn, sockets)
	for i := range peers {
		peers[i] = dialPeer(t, ps.url)
		conns[i] = ps.accept(t)
	}
	for round := range 5 {
		for i, p := range peers {
			waitParked(t, conns[i])
			if err := p.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "%d/%d", i, round)); err != nil {
				t.Fatal(err)
			}
			if got, want := ps.frame(t), fmt.Sprintf("text:%d/%d", i, round); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
	for _, c := range conns {
		waitParked(t, c)
	}
	if Parked() < sockets {
		t.Fatalf("Parked() = %d with %d idle sockets", Parked(), sockets)
	}
	if n := runtime.NumGoroutine(); n >= before+sockets {
		t.Fatalf("%d goroutines with %d parked sockets (%d before the sockets)", n, sockets, before)
	}
}

// A parked socket keeps its keepalive: pings go out on the timer, the
// peer's pongs wake the reader, are taken outside gorilla and extend the
// deadline, so the socket outlives several PongWaits; once the peer stops
// answering, the socket ends as a silent one (a timeout, as gorilla's
// read deadline ends it).
func TestParkedKeepalive(t *testing.T) {
	needPoller(t)
	o := parkOpts()
	o.PingPeriod, o.PongWait = 20*time.Millisecond, 150*time.Millisecond
	ps := startParked(t, o, false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	pings := make(chan struct{}, 256)
	var mute atomic.Bool
	peer.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		if mute.Load() {
			return nil
		}
		return peer.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := peer.ReadMessage(); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for range 3 * int(o.PongWait/o.PingPeriod) {
		select {
		case <-pings:
		case err := <-ps.ends:
			t.Fatalf("socket ended after %s while the peer answered pings: %v", time.Since(start), err)
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	waitParked(t, c)
	mute.Store(true)
	err := ps.end(t)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent peer: end(%v), want a timeout", err)
	}
	<-c.Done()
}

// A ping the peer sends to a parked socket is answered with its payload,
// and the socket parks again.
func TestParkedAnswersPing(t *testing.T) {
	needPoller(t)
	ps := startParked(t, parkOpts(), false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	pongs := make(chan string, 4)
	peer.SetPongHandler(func(data string) error { pongs <- data; return nil })
	go func() {
		for {
			if _, _, err := peer.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		waitParked(t, c)
		want := fmt.Sprintf("are you there %d", i)
		if err := peer.WriteControl(websocket.PingMessage, []byte(want), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != want {
				t.Fatalf("pong %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pong")
		}
	}
	waitParked(t, c)
}

// The peer's close frame or a dropped connection ends a parked socket
// with gorilla's own errors (the gateway reads the close code from them).
func TestParkedPeerCloses(t *testing.T) {
	needPoller(t)
	ps := startParked(t, parkOpts(), false)

	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	waitParked(t, c)
	_ = peer.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4321, "bye"), time.Now().Add(time.Second))
	var ce *websocket.CloseError
	if err := ps.end(t); !errors.As(err, &ce) || ce.Code != 4321 || ce.Text != "bye" {
		t.Fatalf("close frame: end(%v), want close 4321 bye", err)
	}

	peer = dialPeer(t, ps.url)
	c = ps.accept(t)
	waitParked(t, c)
	_ = peer.NetConn().Close()
	if err := ps.end(t); !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("dropped connection: end(%v), want close 1006", err)
	}
	<-c.Done()
}

// Closing a parked socket from the hub's side sends the close frame and
// ends the reader once.
func TestParkedClosedByHub(t *testing.T) {
	needPoller(t)
	ps := startParked(t, parkOpts(), false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	waitParked(t, c)
	c.Close(CloseGoingAway, "draining")
	_, _, err := peer.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseGoingAway {
		t.Fatalf("peer read %v, want close 1001", err)
	}
	_ = ps.end(t)
	<-c.Done()
	select {
	case err := <-ps.ends:
		t.Fatalf("end called twice (second: %v)", err)
	default:
	}

	// Ended from outside while parked: finish is what a failed write or
	// an overflow calls.
	_ = dialPeer(t, ps.url)
	c = ps.accept(t)
	waitParked(t, c)
	c.finish()
	if err := ps.end(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("finished while parked: end(%v), want net.ErrClosed", err)
	}
}

// Bytes that arrive a few at a time (one segment per write: TCP_NODELAY)
// wake the reader part-way through a frame: it waits for the rest of a pong it answers itself and of a
// message gorilla reads.
func TestParkedSplitFrames(t *testing.T) {
	needPoller(t)
	ps := startParked(t, parkOpts(), false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	raw := peer.NetConn()
	stream := append(maskedFrame(0x8A, []byte("pong")), maskedFrame(0x81, []byte("hello, split"))...)
	stream = append(stream, maskedFrame(0x82, bytes.Repeat([]byte{7}, 300))...)
	for i := 0; i < len(stream); {
		n := min(1+i%5, len(stream)-i)
		if _, err := raw.Write(stream[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	if got := ps.frame(t); got != "text:hello, split" {
		t.Fatalf("got %q", got)
	}
	if got := ps.frame(t); got != "binary:"+string(bytes.Repeat([]byte{7}, 300)) {
		t.Fatalf("got %d bytes", len(got))
	}
	waitParked(t, c)
}

// maskedFrame is one final client frame with header byte b0.
func maskedFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		panic("test frame too large")
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	return f
}

// served is what one server socket did with a byte stream: the frames fn
// saw, the bytes it wrote back (pongs, close frames), how it ended.
type servedStream struct {
	frames []string
	out    []byte
	end    string
}

// serveStream writes stream to a fresh socket of ps after the handshake,
// half-closes, and reads everything the server sends until it closes.
func serveStream(t testing.TB, ps *parkedServer, stream []byte) servedStream {
	t.Helper()
	// From one of many loopback addresses: a fuzzing run opens connections
	// faster than TIME_WAIT frees one address's ports.
	src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+mrand.IntN(254)), byte(1+mrand.IntN(254)))}
	nc, err := (&net.Dialer{LocalAddr: src}).Dial("tcp", ps.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
		ps.addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	c := ps.accept(t)
	if _, err := nc.Write(stream); err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(br)
	end := ps.end(t)
	<-c.Done()
	var got servedStream
	got.out = out
	got.end = endClass(end)
	for {
		select {
		case f := <-ps.frames:
			got.frames = append(got.frames, f)
			continue
		default:
		}
		break
	}
	return got
}

// endClass is what the gateway takes from a read error: the close code,
// a timeout, or another error's text.
func endClass(err error) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, ErrPreAuthTooBig), errors.Is(err, websocket.ErrReadLimit):
		return "too big"
	}
	return "error"
}

// FuzzParkedReader feeds the same client byte stream to a socket that
// parks and to one read by gorilla alone: the frames handed on, the bytes
// written back and the way each ended must be the same. Control frames at
// message boundaries take the parked reader's own path; everything else
// (fragments, malformed headers, unmasked frames, close frames) gorilla's.
func FuzzParkedReader(f *testing.F) {
	needPoller(f)
	ping := maskedFrame(0x89, []byte("p"))
	pong := maskedFrame(0x8A, nil)
	text := maskedFrame(0x81, []byte("hello"))
	f.Add(append(append(append([]byte{}, ping...), text...), pong...))
	f.Add(append(append([]byte{}, pong...), maskedFrame(0x88, []byte{0x03, 0xe8, 'o', 'k'})...))
	f.Add([]byte{0x01, 0x83, 1, 2, 3, 4, 'a', 'b', 'c', 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x81, 9, 9, 9, 9, 'z'}) // ping inside a fragmented message
	f.Add([]byte{0x89, 0x05, 'h', 'e', 'l', 'l', 'o'})                                                        // unmasked ping
	f.Add([]byte{0x99, 0x80, 0, 0, 0, 0})                                                                     // RSV bit on a ping
	f.Add([]byte{0x89, 0xfe, 0, 200})                                                                         // ping over 125 bytes
	f.Add([]byte{0x09, 0x80, 0, 0, 0, 0})                                                                     // fragmented ping
	f.Add(append([]byte{}, ping[:3]...))                                                                      // cut short
	parked := startParked(f, parkOpts(), false)
	plain := startParked(f, parkOpts(), true)
	f.Fuzz(func(t *testing.T, stream []byte) {
		if len(stream) > 4096 {
			return
		}
		a, b := serveStream(t, parked, stream), serveStream(t, plain, stream)
		if fmt.Sprint(a.frames) != fmt.Sprint(b.frames) || !bytes.Equal(a.out, b.out) || a.end != b.end {
			t.Fatalf("parked: frames %q, wrote %x, ended %s\ngorilla: frames %q, wrote %x, ended %s",
				a.frames, a.out, a.end, b.frames, b.out, b.end)
		}
	})
}

// A streaming socket (a runtime's) keeps its reader goroutine: it never
// parks between frames.
func TestStreamingSocketNeverParks(t *testing.T) {
	needPoller(t)
	o := parkOpts()
	o.Streaming = true
	ps := startParked(t, o, false)
	peer := dialPeer(t, ps.url)
	c := ps.accept(t)
	for i := range 3 {
		if err := peer.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
		if got := ps.frame(t); got != fmt.Sprintf("text:%d", i) {
			t.Fatalf("got %q", got)
		}
	}
	if c.parks() || c.rstate.Load() == readParked {
		t.Fatal("a streaming socket parks")
	}
}
