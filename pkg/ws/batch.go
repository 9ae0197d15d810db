package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// DefaultWriteBatchBytes is the most a socket's writer gathers into one
// write(2) when Options.WriteBatchBytes is 0.
const DefaultWriteBatchBytes = 16 << 10

// Upgrade upgrades r to a WebSocket with up, as every hub socket is:
//   - its read buffer (up.ReadBufferSize, at least IdleReadBufferBytes) is
//     the socket's own, so the socket can tell a frame already buffered from
//     none and wait for the next one without a goroutine (Conn.Serve);
//   - the frames its writer finds queued on one wake-up go out in one
//     write(2) instead of one per frame.
//
// A socket upgraded by gorilla directly keeps a reader goroutine and
// writes one frame per write(2).
func Upgrade(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	u := *up
	size := max(u.ReadBufferSize, IdleReadBufferBytes)
	u.ReadBufferSize = 0 // gorilla reads through the reader the hijack hands it: ours
	return u.Upgrade(coalescing{ResponseWriter: w, readBuffer: size}, r, nil)
}

type coalescing struct {
	http.ResponseWriter
	readBuffer int
}

// Hijack hands gorilla the connection wrapped in a batchConn, with a read
// buffer of the socket's own (net/http's, 4 KiB, when the client sent
// bytes ahead of the handshake: gorilla refuses those).
func (c coalescing) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := c.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	bc := &batchConn{Conn: nc}
	if brw.Reader.Buffered() > 0 {
		return bc, brw, nil
	}
	bc.br = bufio.NewReaderSize(bc, c.readBuffer)
	return bc, bufio.NewReadWriter(bc.br, brw.Writer), nil
}

// batchConn is the net.Conn under a gorilla socket. Outside a batch it
// writes through; during one (the writer goroutine between begin and end)
// gorilla's frame writes are gathered in a pooled buffer that goes out in
// one write when the batch ends or the buffer is full. An idle socket holds
// no buffer. Reads (after any bytes the poller read for the reader) and
// deadlines go to the connection.
type batchConn struct {
	net.Conn
	br       *bufio.Reader // what gorilla reads from (nil: net/http's)
	pending  []byte        // read off the socket by the poller, for the reader (reader side only)
	mu       sync.Mutex
	batching bool
	max      int
	buf      *[]byte // from batchPool, only while it holds bytes
}

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, DefaultWriteBatchBytes); return &b }}

// begin starts gathering writes of up to max bytes.
func (b *batchConn) begin(max int) {
	b.mu.Lock()
	b.batching, b.max = true, max
	b.mu.Unlock()
}

// end writes what was gathered and stops gathering.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	return b.flushLocked()
}

// flush writes what was gathered, gathering on.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	pending := 0
	if b.buf != nil {
		pending = len(*b.buf)
	}
	if pending+len(p) > b.max {
		if pending == 0 {
			return b.Conn.Write(p)
		}
		// Pending bytes and p together, in one writev on a TCP connection.
		bufs := net.Buffers{*b.buf, p}
		_, err := bufs.WriteTo(b.Conn)
		b.release()
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if b.buf == nil {
		b.buf = batchPool.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// Read returns what the poller read off a parked socket first, then reads
// the connection.
func (b *batchConn) Read(p []byte) (int, error) {
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		if b.pending = b.pending[n:]; len(b.pending) == 0 {
			b.pending = nil // an idle socket keeps no buffer
		}
		return n, nil
	}
	return b.Conn.Read(p)
}

func (b *batchConn) flushLocked() error {
	if b.buf == nil {
		return nil
	}
	_, err := b.Conn.Write(*b.buf)
	b.release()
	return err
}

// release returns the buffer to the pool (its bytes are written or lost).
func (b *batchConn) release() {
	if cap(*b.buf) <= 4*DefaultWriteBatchBytes {
		*b.buf = (*b.buf)[:0]
		batchPool.Put(b.buf)
	}
	b.buf = nil
}
