// Package ws is the WebSocket connection every dialect runs on: a reader
// that holds a goroutine only while the peer sends (an idle socket is
// parked on an epoll set, park.go), a writer goroutine that runs only while
// the bounded send queue holds frames, control-frame keepalive from a
// timer, read limits and close codes.
//
// Frames are shared []byte: a frame fanned out to many sockets is encoded
// once and queued by reference.
package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes the hub uses (RFC 6455 and Switchyard's private range).
const (
	CloseNormal       = websocket.CloseNormalClosure     // 1000
	CloseGoingAway    = websocket.CloseGoingAway         // 1001: pod draining, reconnect elsewhere
	ClosePolicy       = websocket.ClosePolicyViolation   // 1008: authentication failed
	CloseTooBig       = websocket.CloseMessageTooBig     // 1009: frame over the size limit
	CloseInternal     = websocket.CloseInternalServerErr // 1011
	CloseTryAgain     = websocket.CloseTryAgainLater     // 1013: the hub cannot serve now
	CloseSlowConsumer = 4008                             // send queue overflow: the peer reads too slowly
	CloseReplaced     = 4009                             // the same runtime connected again elsewhere
	// CloseTooManySockets: the principal holds SY_MAX_SOCKETS_PER_PRINCIPAL sockets.
	CloseTooManySockets = 4029
	closeGrace          = time.Second // how long to wait for the peer's close reply
)

// Options are a socket's limits and timings.
type Options struct {
	PingPeriod      time.Duration
	PongWait        time.Duration
	WriteWait       time.Duration
	MaxMessageBytes int64
	QueueFrames     int
	QueueBytes      int
	// WriteBatchBytes bounds what one write(2) carries when several frames
	// are queued (sockets upgraded through Upgrade): 0 is
	// DefaultWriteBatchBytes, < 0 writes one frame per write(2).
	WriteBatchBytes int
	// PreAuthMaxMessageBytes is the largest frame until Authenticate is
	// called (close 1009 above it); 0: MaxMessageBytes.
	PreAuthMaxMessageBytes int64
	// Budget, when set, bounds the bytes of frames being read by all the
	// sockets sharing it; BudgetWait is how long a frame may wait for it
	// (close 1013 after).
	Budget     *Budget
	BudgetWait time.Duration
	// Streaming: the peer sends frames back to back (a runtime), so the
	// socket keeps its reader goroutine rather than parking after every
	// frame (park.go).
	Streaming bool
}

// ErrClosed is returned by Send on a closed or closing socket.
var ErrClosed = errors.New("ws: connection closed")

// ErrOverflow is returned by Send when the queue is full; the socket is
// then closed with CloseSlowConsumer.
var ErrOverflow = errors.New("ws: send queue overflow")

type item struct {
	data      []byte
	binary    bool
	ping      bool
	closeCode int
	closeText string
}

// Conn is one WebSocket with its send queue.
type Conn struct {
	ws *websocket.Conn
	o  Options
	bc *batchConn // nil: one write(2) per frame

	// The reader (park.go).
	fn       func(binary bool, data []byte)
	end      func(error)
	pre      int64         // frame limit before Authenticate (0: none)
	in       *batchConn    // gorilla reads from in.br (nil: the socket never parks)
	br       *bufio.Reader // what gorilla reads from (nil: net/http's, unknown)
	more     atomic.Bool   // a data frame followed the one being handled (MoreBuffered)
	raw      syscall.RawConn
	fd       int          // the socket's descriptor (-1: none to poll)
	noPark   bool         // parking failed once: read on a goroutine from now on (reader only)
	rstate   atomic.Int32 // readRunning, readParked, readEnded
	readBy   atomic.Int64 // monoNow by which the peer must be heard from
	silence  *time.Timer  // ends a parked socket at readBy
	polled   bool         // registered with the poller (guarded by the poller)
	pollGone bool         // forgotten by the poller: never arm again (guarded by the poller)

	mu      sync.Mutex
	queue   []item
	qBytes  int
	closing bool
	dropped atomic.Bool // overflowed: write no more data frames
	authed  atomic.Bool // Authenticate was called: frames up to MaxMessageBytes

	writing  bool          // a writer runs (guarded by mu)
	lingers  bool          // the writer goroutine waits for frames (guarded by mu)
	wake     chan struct{} // wakes a lingering writer (guarded by mu; nil until a writer goroutine lingers, and after it ends)
	linger   *time.Timer   // ends a lingering writer (the writer goroutine's own; nil as wake)
	pinger   *time.Timer   // queues a keepalive ping every PingPeriod
	flushed  chan struct{} // signalled after each written batch
	done     chan struct{} // closed when the socket is finished
	doneOnce sync.Once

	// OnOverflow, when set before the first Send, is called once if the
	// socket is dropped for overflowing its queue.
	OnOverflow func()
	// OnReadDrained, when set before Serve, is called on the reader's
	// goroutine after a frame's callback returns with no further data
	// frame buffered: the reader is about to wait for the peer. Work a
	// callback held back because MoreBuffered said more was coming is
	// released here.
	OnReadDrained func()
}

// writeBuffers are gorilla's frame buffers, shared by every socket: a
// socket holds one only while it writes a frame.
var writeBuffers = &sync.Pool{}

// Read buffer sizes: a socket's gorilla read buffer lives as long as the
// socket. Most sockets are idle clients that send a few small frames, and
// a frame larger than the buffer is read past it, straight into the
// message; sockets that stream (runtimes) read more per syscall.
const (
	IdleReadBufferBytes   = 512
	StreamReadBufferBytes = 4096
)

// Upgrader returns a gorilla upgrader tuned for many mostly idle sockets:
// a small read buffer of the socket's own (IdleReadBufferBytes; set
// ReadBufferSize to StreamReadBufferBytes for a streaming socket), so that
// net/http's 4 KiB buffers are not kept once the handler returns, and
// write buffers from one pool shared by all sockets (an idle socket holds
// none).
func Upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   IdleReadBufferBytes,
		WriteBufferPool:  writeBuffers,
		CheckOrigin:      func(*http.Request) bool { return true },
	}
}

// New wraps an upgraded socket (Upgrade) and starts its keepalive; Serve
// starts its reader.
//
// An idle socket has no writer goroutine: one is started when frames are
// queued and ends writerLinger after the queue last emptied, and
// keepalive pings come from a timer that queues a ping. Nor, upgraded
// through Upgrade on Linux, a reader goroutine (park.go).
func New(c *websocket.Conn, o Options) *Conn {
	conn := &Conn{ws: c, o: o, fd: -1, flushed: make(chan struct{}, 1), done: make(chan struct{})}
	if bc, ok := c.NetConn().(*batchConn); ok {
		if o.WriteBatchBytes >= 0 {
			conn.bc = bc
			if conn.o.WriteBatchBytes == 0 {
				conn.o.WriteBatchBytes = DefaultWriteBatchBytes
			}
		}
		conn.br = bc.br
		if bc.br != nil && !o.Streaming {
			conn.in = bc
			conn.raw, conn.fd = socketFD(bc.Conn)
		}
	}
	conn.mu.Lock() // ping reads pinger under mu
	conn.pinger = time.AfterFunc(o.PingPeriod, conn.ping)
	conn.mu.Unlock()
	return conn
}

// ping queues a keepalive ping (outside the queue limits) and re-arms.
// On an idle socket the timer's goroutine writes it: no writer goroutine
// is started per ping.
func (c *Conn) ping() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, item{ping: true})
	c.pinger.Reset(c.o.PingPeriod)
	if c.writing {
		c.startWriter() // wakes a lingering writer
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	c.writeLoop(false)
}

// writerLinger is how long a writer goroutine waits for the next frame
// once its queue is empty. A socket that gets a frame every few tens of
// milliseconds (a client following a streaming session) keeps one writer,
// and its grown stack, instead of starting a goroutine per frame; an idle
// socket still has none a moment after its last frame. (A variable for
// tests.)
var writerLinger = 200 * time.Millisecond

// Writer goroutines of this process: started ever, running now (Writers).
var writersStarted, writersRunning atomic.Int64

// Writers is how many socket writer goroutines of this process run now
// (writing, or lingering for the next frame).
func Writers() int64 { return writersRunning.Load() }

// startWriter starts the writer goroutine unless one runs, and wakes it if
// it lingers. Called with c.mu held.
func (c *Conn) startWriter() {
	switch {
	case c.lingers:
		c.wakeLocked()
	case !c.writing:
		c.writing = true
		writersStarted.Add(1)
		writersRunning.Add(1)
		go func() {
			defer writersRunning.Add(-1)
			c.writeLoop(true)
		}()
	}
}

// Done is closed when the socket is finished.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Queued reports the frames and bytes waiting in the send queue.
func (c *Conn) Queued() (frames, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.qBytes
}

// Send queues a text frame. It never blocks: a full queue drops the socket.
func (c *Conn) Send(frame []byte) error { return c.enqueue(item{data: frame}) }

// SendBinary queues a binary frame.
func (c *Conn) SendBinary(frame []byte) error { return c.enqueue(item{data: frame, binary: true}) }

func (c *Conn) enqueue(it item) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	// A frame larger than the byte limit is still taken when nothing waits
	// (a big file), so the limit bounds the backlog, not one frame.
	if len(c.queue) >= c.o.QueueFrames || (len(c.queue) > 0 && c.qBytes+len(it.data) > c.o.QueueBytes) {
		c.closing = true
		c.dropped.Store(true)
		c.queue, c.qBytes = nil, 0
		c.mu.Unlock()
		if c.OnOverflow != nil {
			c.OnOverflow()
		}
		// Never block the sender (a fan-out serving other sockets): the
		// close frame waits for room in the peer's buffers on its own.
		go c.closeNow(CloseSlowConsumer, "send queue overflow")
		return ErrOverflow
	}
	c.queue = append(c.queue, it)
	c.qBytes += len(it.data)
	c.startWriter()
	c.mu.Unlock()
	return nil
}

// Close sends what is queued, then a close frame with code and reason,
// then ends the socket once the peer answers (or after a grace period).
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.queue = append(c.queue, item{closeCode: code, closeText: reason})
	c.startWriter()
	c.mu.Unlock()
}

// closeNow skips the queue: close frame (as soon as the socket takes it,
// at most WriteWait), then the TCP connection.
func (c *Conn) closeNow(code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.o.WriteWait))
	c.flushBatch() // the writer may be gathering a batch: the close frame joined it
	c.finish()
}

// flushBatch writes what the current batch gathered.
func (c *Conn) flushBatch() {
	if c.bc != nil {
		_ = c.bc.flush()
	}
}

// finish releases the socket; safe to call more than once. A parked
// reader learns of it here (its end runs on a goroutine of its own).
func (c *Conn) finish() {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.pinger.Stop()
		c.wakeLocked() // a lingering writer ends
		c.mu.Unlock()
		readiness.forget(c) // before the descriptor is closed
		close(c.done)
		_ = c.ws.Close()
	})
	if c.unpark(readEnded) {
		go c.end(fmt.Errorf("ws: socket closed while idle: %w", net.ErrClosed))
	}
}

// writeLoop writes queued frames until the queue is empty; with linger
// (a writer goroutine of its own, not the keepalive timer's) it first
// waits up to writerLinger for more.
func (c *Conn) writeLoop(linger bool) {
	var batch []item
	for {
		c.mu.Lock()
		if len(c.queue) == 0 && !(linger && c.lingerLocked()) {
			c.writing = false
			c.wake, c.linger = nil, nil // stopped when the linger ended
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.qBytes = 0
		c.mu.Unlock()
		if !c.writeBatch(batch) {
			return
		}
		select {
		case c.flushed <- struct{}{}:
		default:
		}
	}
}

// lingerLocked waits up to writerLinger for a frame to be queued, and
// reports whether one was. Called and returns with c.mu held. The writer
// waits on one channel (a frame, the linger timer and finish each leave a
// token), the cheapest way for a goroutine to park and be woken.
func (c *Conn) lingerLocked() bool {
	if c.closing {
		return false
	}
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
		c.linger = time.AfterFunc(writerLinger, c.wakeWriter)
	} else {
		select {
		case <-c.wake: // a token left by a frame the last batch took already
		default:
		}
		c.linger.Reset(writerLinger)
	}
	c.lingers = true
	c.mu.Unlock()
	<-c.wake
	c.linger.Stop()
	c.mu.Lock()
	c.lingers = false
	return len(c.queue) > 0
}

// wakeWriter wakes a lingering writer (the linger timer's function).
func (c *Conn) wakeWriter() {
	c.mu.Lock()
	c.wakeLocked()
	c.mu.Unlock()
}

// wakeLocked leaves a lingering writer a token. Called with c.mu held.
func (c *Conn) wakeLocked() {
	if c.lingers {
		select {
		case c.wake <- struct{}{}:
		default: // already woken
		}
	}
}

// writeBatch writes the frames taken from the queue on one wake-up: into
// one write(2) (up to WriteBatchBytes each) when the socket coalesces.
// False means the socket is finished.
func (c *Conn) writeBatch(batch []item) (ok bool) {
	if c.bc != nil && len(batch) > 1 {
		c.bc.begin(c.o.WriteBatchBytes)
		defer func() {
			if err := c.bc.end(); err != nil {
				c.finish()
				ok = false
			}
		}()
	}
	for i := range batch {
		if !c.write(&batch[i]) {
			return false
		}
		batch[i] = item{}
	}
	return true
}

// WaitQueueBelow blocks until fewer than n bytes are queued, the socket
// ends, or ctx is done. Bulk senders (history replay) use it to follow the
// peer's pace instead of overflowing the queue.
func (c *Conn) WaitQueueBelow(ctx context.Context, n int) error {
	for {
		if _, b := c.Queued(); b < n {
			return nil
		}
		select {
		case <-c.flushed:
		case <-c.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// write sends one queued item; false means the socket is finished.
func (c *Conn) write(it *item) bool {
	if c.dropped.Load() {
		return false
	}
	if it.ping {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.o.WriteWait)); err != nil {
			c.finish()
			return false
		}
		return true
	}
	if it.closeCode != 0 {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(it.closeCode, it.closeText), time.Now().Add(c.o.WriteWait))
		c.flushBatch() // the close frame and the frames before it go out before the wait
		select {
		case <-c.done:
		case <-time.After(closeGrace):
		}
		c.finish()
		return false
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.o.WriteWait))
	typ := websocket.TextMessage
	if it.binary {
		typ = websocket.BinaryMessage
	}
	if err := c.ws.WriteMessage(typ, it.data); err != nil {
		c.finish()
		return false
	}
	return true
}

// Authenticate lifts the pre-authentication frame limit: frames up to
// MaxMessageBytes are read from now on (also one already being read).
func (c *Conn) Authenticate() { c.authed.Store(true) }

// frame reads one message and hands it to fn, under the socket's limits:
// over PreAuthMaxMessageBytes before Authenticate it closes 1009
// (ErrPreAuthTooBig), over MaxMessageBytes 1009 (websocket.ErrReadLimit),
// and a frame that finds no read budget within BudgetWait closes 1013
// (ErrBudget). The frame's budget is held until fn returns. Control frames
// before the message are gorilla's to answer.
func (c *Conn) frame() error {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return err
	}
	fr := frameReader{budget: c.o.Budget, wait: c.o.BudgetWait, limit: c.o.MaxMessageBytes, pre: c.pre, authed: &c.authed}
	data, err := fr.read(r)
	if err != nil {
		fr.done()
		switch {
		case errors.Is(err, ErrPreAuthTooBig):
			c.closeRead(CloseTooBig, "frame over "+strconv.FormatInt(c.pre, 10)+" bytes before authentication")
		case errors.Is(err, ErrBudget):
			c.closeRead(CloseTryAgain, "gateway read budget exhausted; try again later")
		}
		return err
	}
	batching := c.OnReadDrained != nil // only such sockets ask MoreBuffered
	if batching {
		c.more.Store(c.nextBuffered())
	}
	c.fn(typ == websocket.BinaryMessage, data)
	fr.done()
	if batching && !c.nextBuffered() {
		c.OnReadDrained()
	}
	// The peer is silent only while we read: time fn spent (a frame
	// waiting for admission or for its ack window) is not its silence.
	_ = c.heard()
	return nil
}

// MoreBuffered reports whether, when the current frame's callback began,
// another small data message, or its start, had already been read off the
// socket (nextBuffered): a callback may then hold work to do together with
// the next frame's, until OnReadDrained. Always false on a socket without
// OnReadDrained. Safe on any goroutine.
func (c *Conn) MoreBuffered() bool { return c.more.Load() }

// nextBuffered: the reader holds the next frame, a complete (FIN) text or
// binary message, whole or, when it fits the read buffer, in part: a frame
// that small is one write of the peer's, so its rest is already in the
// kernel or a segment behind. A control frame (gorilla answers it without
// returning), a fragment, or a large frame still arriving is not "more":
// whoever holds work for it could wait on the peer. Reader only.
func (c *Conn) nextBuffered() bool {
	if c.br == nil {
		return false
	}
	n := c.br.Buffered()
	if n < 2 {
		return false
	}
	h, err := c.br.Peek(min(n, 10))
	if err != nil {
		return false
	}
	if h[0]&0x80 == 0 || (h[0]&0x0f != websocket.TextMessage && h[0]&0x0f != websocket.BinaryMessage) {
		return false
	}
	size := uint64(h[1] & 0x7f)
	switch {
	case size == 126 && len(h) >= 4:
		size = uint64(binary.BigEndian.Uint16(h[2:4]))
	case size == 126, size == 127: // a header still arriving, or a frame of 64 KiB or more
		return false
	}
	return size <= uint64(c.br.Size())
}

// closeRead ends the socket from its reader: nothing more is queued, the
// close frame goes out at once (WriteControl may run beside the writer),
// then what the peer still sends is discarded (never kept) for at most
// closeGrace, so closing does not reset the connection before the peer
// has read the close frame.
func (c *Conn) closeRead(code int, reason string) {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.o.WriteWait))
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.CopyN(io.Discard, nc, c.o.MaxMessageBytes)
	c.finish()
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() string { return c.ws.RemoteAddr().String() }
