package ws

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/semaphore"
)

// Budget bounds the bytes of frames being read and handled at once by
// every socket that shares it (one per gateway). A frame's first
// FreeFrameBytes are read without it; above that the reader takes budget
// for the buffer before growing it (gorilla hands out the frame reader
// before the bytes, so nothing past the free part is read without it) and
// gives it back once the frame has been handled. When the budget is used
// up the reader waits (at most Options.BudgetWait), holding no budget
// while it waits, then the socket is closed with 1013 (ErrBudget).
type Budget struct {
	sem  *semaphore.Weighted
	size int64
	used atomic.Int64
	peak atomic.Int64
	wait atomic.Int64 // reads that had to wait
}

// FreeFrameBytes is the part of every frame read without the budget: each
// socket reads one frame at a time, so sockets × this bounds it.
const FreeFrameBytes = 64 << 10

// ErrBudget ends a read loop whose frame found no read budget in time.
var ErrBudget = errors.New("ws: read budget exhausted")

// ErrPreAuthTooBig ends a read loop whose frame is larger than allowed
// before the socket is authenticated.
var ErrPreAuthTooBig = errors.New("ws: frame too big before authentication")

// NewBudget is a budget of size bytes; size <= 0 is nil (no budget).
func NewBudget(size int64) *Budget {
	if size <= 0 {
		return nil
	}
	return &Budget{sem: semaphore.NewWeighted(size), size: size}
}

// Size is the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// InUse is the budget taken now.
func (b *Budget) InUse() int64 { return b.used.Load() }

// Peak is the most budget ever taken at once.
func (b *Budget) Peak() int64 { return b.peak.Load() }

// Waits counts the reads that found the budget used up and waited.
func (b *Budget) Waits() int64 { return b.wait.Load() }

func (b *Budget) took(n int64) {
	u := b.used.Add(n)
	for p := b.peak.Load(); u > p && !b.peak.CompareAndSwap(p, u); p = b.peak.Load() {
	}
}

func (b *Budget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-n)
	b.sem.Release(n)
}

// frameReader reads one frame's bytes under the socket's limits.
type frameReader struct {
	budget *Budget
	wait   time.Duration
	limit  int64        // largest frame
	pre    int64        // largest frame before authentication (0: limit)
	authed *atomic.Bool // read when the frame passes pre, so a socket authenticated meanwhile gets limit
	held   int64        // budget taken for this frame
}

// over reports whether a frame of n bytes is over the pre-authentication limit.
func (fr *frameReader) over(n int64) bool { return fr.pre > 0 && n > fr.pre && !fr.authed.Load() }

// need is the budget a buffer of capacity n takes.
func need(n int) int64 { return max(0, int64(n)-FreeFrameBytes) }

// grow makes room in buf for more bytes, taking budget first.
func (fr *frameReader) grow(buf []byte) ([]byte, error) {
	n := max(2*cap(buf), 512)
	if int64(n) > fr.limit+1 {
		n = int(fr.limit + 1) // one byte past the limit tells a too big frame
	}
	if fr.over(int64(n)) {
		n = int(fr.pre + 1) // len == cap <= pre here
	}
	if want := need(n) - fr.held; want > 0 && fr.budget != nil {
		if !fr.budget.sem.TryAcquire(want) {
			// Never wait while holding budget: give it back and wait for
			// what the largest frame needs, in one piece.
			fr.budget.release(fr.held)
			fr.held = 0
			full := need(int(fr.limit + 1))
			if full > fr.budget.size {
				full = fr.budget.size
			}
			fr.budget.wait.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), fr.wait)
			err := fr.budget.sem.Acquire(ctx, full)
			cancel()
			if err != nil {
				return buf, ErrBudget
			}
			want = full
		}
		fr.budget.took(want)
		fr.held += want
	}
	nb := make([]byte, len(buf), n)
	copy(nb, buf)
	return nb, nil
}

// read reads r to its end.
func (fr *frameReader) read(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			var err error
			if buf, err = fr.grow(buf); err != nil {
				return nil, err
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if fr.over(int64(len(buf))) {
			return nil, ErrPreAuthTooBig
		}
		if int64(len(buf)) > fr.limit {
			return nil, websocket.ErrReadLimit
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// done gives back the frame's budget.
func (fr *frameReader) done() {
	if fr.budget != nil && fr.held > 0 {
		fr.budget.release(fr.held)
		fr.held = 0
	}
}
