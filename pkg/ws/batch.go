package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// DefaultWriteBatchBytes is the most a socket's writer gathers into one
// write(2) when Options.WriteBatchBytes is 0.
const DefaultWriteBatchBytes = 16 << 10

// Coalesce returns w with the connection it hijacks wrapped so that the
// frames a socket's writer finds queued on one wake-up go out in one
// write(2) instead of one per frame. Upgrade through it:
//
//	ws.Upgrader().Upgrade(ws.Coalesce(w), r, nil)
//
// A socket upgraded without it writes one frame per write(2).
func Coalesce(w http.ResponseWriter) http.ResponseWriter { return coalescing{w} }

type coalescing struct{ http.ResponseWriter }

// Hijack hands gorilla the connection wrapped in a batchConn.
func (c coalescing) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := c.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: nc}, brw, nil
}

// batchConn is the net.Conn under a gorilla socket. Outside a batch it
// writes through; during one (the writer goroutine between begin and end)
// gorilla's frame writes are gathered in a pooled buffer that goes out in
// one write when the batch ends or the buffer is full. An idle socket holds
// no buffer. Reads and deadlines go to the connection unchanged.
type batchConn struct {
	net.Conn
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
