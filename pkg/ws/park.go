package ws

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// The reader of a socket upgraded through Upgrade holds a goroutine only
// while the peer sends. At a message boundary with nothing buffered it
// parks: the socket is armed on the process's epoll set (poll_linux.go),
// a timer stands in for the read deadline, and the goroutine returns. The
// peer's next bytes wake it (woken): pongs are taken on the poller's
// goroutine, anything else on a new reader goroutine.
//
// Gorilla answers control frames inside NextReader and then blocks for
// the next message, which would pin a goroutine on every pong. So pings
// and pongs found at a message boundary are answered here (a pong extends
// the deadline, a ping is answered with a pong), exactly as gorilla's
// handlers would; every other frame (data, close, anything malformed) and
// every read error is gorilla's to read and report.
//
// Sockets without a buffer of their own, or off Linux, read on one
// goroutine for their whole life, as gorilla does.

// Reader states (Conn.rstate).
const (
	readRunning int32 = iota // a goroutine reads (or is about to)
	readParked               // armed on the poller; no goroutine
	readEnded                // end was called or is being called
)

// errPollClosed: the socket is closing, it parks no more.
var errPollClosed = errors.New("ws: socket closing")

// parkedSockets counts the sockets parked right now (Parked).
var parkedSockets atomic.Int64

// Parked is how many sockets of this process wait for their peer without
// a goroutine.
func Parked() int64 { return parkedSockets.Load() }

// epoch anchors monoNow: deadlines are kept as monotonic nanoseconds.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// Serve reads the socket's frames until it ends, calling fn for each in
// order and never two at once, then end once with the reason the socket
// ended (a *websocket.CloseError for the peer's close, a net.Error whose
// Timeout is true for a silent peer, ErrPreAuthTooBig, ErrBudget, …). It
// returns at once. Any frame or pong extends the peer's deadline by
// PongWait. Both callbacks run on goroutines of the socket's reader, which
// exist only while the peer sends (Upgrade).
func (c *Conn) Serve(fn func(binary bool, data []byte), end func(error)) {
	if c.prepare(fn, end) {
		go c.read()
	}
}

// ReadLoop is Serve on the caller's goroutine: it returns the reason the
// socket ended (the goroutine waits while the socket is parked).
func (c *Conn) ReadLoop(fn func(binary bool, data []byte)) error {
	ended := make(chan error, 1)
	if c.prepare(fn, func(err error) { ended <- err }) {
		c.read()
	}
	return <-ended
}

// prepare sets the reader up and parks it if it can; true: a goroutine
// must read now.
func (c *Conn) prepare(fn func(binary bool, data []byte), end func(error)) bool {
	c.fn, c.end = fn, end
	c.ws.SetReadLimit(c.o.MaxMessageBytes)
	c.ws.SetPongHandler(func(string) error { return c.heard() })
	_ = c.heard()
	if c.o.PreAuthMaxMessageBytes < c.o.MaxMessageBytes {
		c.pre = c.o.PreAuthMaxMessageBytes
	}
	if !c.parks() {
		return true
	}
	c.silence = time.AfterFunc(time.Hour, c.silent)
	c.silence.Stop() // armed by park
	return !c.park()
}

// heard extends the peer's deadline by PongWait from now.
func (c *Conn) heard() error {
	c.readBy.Store(monoNow() + int64(c.o.PongWait))
	return c.ws.SetReadDeadline(time.Now().Add(c.o.PongWait))
}

func (c *Conn) parks() bool { return c.in != nil && c.fd >= 0 && !c.noPark }

// read runs the reader until it parks or the socket ends.
func (c *Conn) read() {
	for {
		if c.parks() && !c.controlFrames() && c.park() {
			return
		}
		if err := c.frame(); err != nil {
			c.rstate.Store(readEnded)
			c.finish()
			c.end(err)
			return
		}
	}
}

// controlFrames answers the pings and pongs buffered at a message boundary
// and reports whether anything follows them: a frame for gorilla, or a
// read error for it to report. False: nothing is buffered.
func (c *Conn) controlFrames() bool {
	for c.in.br.Buffered() > 0 {
		h, err := c.in.br.Peek(2)
		if err != nil {
			return true
		}
		op, size, ok := controlFrame(h[0], h[1])
		if !ok {
			return true
		}
		f, err := c.in.br.Peek(size)
		if err != nil {
			return true
		}
		var buf [maxControlPayload]byte
		p := unmask(buf[:0], f[2:6], f[6:])
		_, _ = c.in.br.Discard(size)
		if op == websocket.PongMessage {
			if c.heard() != nil {
				return true // closed: gorilla reports it
			}
			continue
		}
		// Gorilla's default ping handler: the pong goes out beside the
		// writer; an error surfaces on the next read or write.
		_ = c.ws.WriteControl(websocket.PongMessage, p, time.Now().Add(c.o.WriteWait))
	}
	return false
}

const maxControlPayload = 125

// controlFrame reads the first two bytes of a client frame: the opcode and
// whole size of a ping or pong that may be answered outside gorilla (final,
// no RSV bits, masked, at most 125 payload bytes). Anything else is not ok.
func controlFrame(b0, b1 byte) (op, size int, ok bool) {
	op = int(b0 & 0x0f)
	if b0&0xf0 != 0x80 || (op != websocket.PingMessage && op != websocket.PongMessage) ||
		b1&0x80 == 0 || int(b1&0x7f) > maxControlPayload {
		return 0, 0, false
	}
	return op, 2 + 4 + int(b1&0x7f), true
}

// unmask appends payload unmasked with the 4-byte key to dst.
func unmask(dst, key, payload []byte) []byte {
	for i, b := range payload {
		dst = append(dst, b^key[i&3])
	}
	return dst
}

// park arms the socket for its peer's next bytes; false when it cannot
// (the deadline has passed, or the poller refused: the reader goes on
// reading on its goroutine, and gorilla reports the timeout or error).
func (c *Conn) park() bool {
	wait := time.Duration(c.readBy.Load() - monoNow())
	if wait <= 0 {
		return false
	}
	parkedSockets.Add(1)
	c.rstate.Store(readParked)
	c.silence.Reset(wait) // after a finish's Stop it fires into an ended socket: nothing
	if err := readiness.arm(c); err != nil {
		if c.unpark(readRunning) {
			c.noPark = true
			return false
		}
		return true // finish or the silence timer has taken it
	}
	return true
}

// unpark moves a parked reader to state; false if it was not parked.
func (c *Conn) unpark(state int32) bool {
	if !c.rstate.CompareAndSwap(readParked, state) {
		return false
	}
	parkedSockets.Add(-1)
	c.silence.Stop()
	return true
}

// woken handles a parked socket its peer has sent to, on the poller's
// goroutine. What the peer sent is read without blocking: pongs alone (the
// answers to the hub's keepalive, most wake-ups of an idle socket) are
// taken there and the socket parks again; anything else goes to a reader
// goroutine, with the bytes read so far.
func (c *Conn) woken() {
	if !c.unpark(readRunning) {
		return // ended meanwhile, or an event from before a re-arm
	}
	var buf [256]byte
	n, err := c.readNow(buf[:])
	switch {
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		if c.park() { // nothing after all
			return
		}
	case err != nil || n == 0:
		c.noPark = true // EOF, reset: gorilla reads it again and reports it
	case pongsOnly(buf[:n]):
		if c.heard() == nil && c.park() {
			return
		}
	default:
		c.in.pending = append([]byte(nil), buf[:n]...)
		go c.resume()
		return
	}
	go c.read()
}

// resume runs the reader of a socket woken with bytes for it: they are
// buffered first (the reader parks only when nothing is).
func (c *Conn) resume() {
	if _, err := c.in.br.Peek(1); err != nil {
		c.noPark = true // gorilla reads the error again and reports it
	}
	c.read()
}

// pongsOnly reports whether p is whole pong frames and nothing else.
func pongsOnly(p []byte) bool {
	for len(p) > 0 {
		if len(p) < 2 {
			return false
		}
		op, size, ok := controlFrame(p[0], p[1])
		if !ok || op != websocket.PongMessage || size > len(p) {
			return false
		}
		p = p[size:]
	}
	return true
}

// silent ends a parked socket whose peer was not heard from by readBy.
func (c *Conn) silent() {
	if monoNow() < c.readBy.Load() {
		return // a firing from an earlier park
	}
	if !c.unpark(readEnded) {
		return
	}
	c.finish()
	c.end(fmt.Errorf("ws: nothing heard for %s: %w", c.o.PongWait, os.ErrDeadlineExceeded))
}

// socketFD is nc's raw connection and descriptor, or -1 when it has none
// to poll.
func socketFD(nc net.Conn) (syscall.RawConn, int) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, -1
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return nil, -1
	}
	return rc, fd
}
