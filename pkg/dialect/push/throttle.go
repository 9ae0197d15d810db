package push

import (
	"sync"
	"time"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Throttle limits Progress events to one per Interval per transfer, at the
// publisher (the upload service), so a fast transfer costs a bounded
// number of NATS messages. The first event of a transfer and every final
// one (Completed, Failed, Cancelled) always pass; a final event forgets the
// transfer. Transfers silent for longer than Idle are forgotten too, so
// one that never ends does not hold memory. Safe for concurrent use.
type Throttle struct {
	Interval time.Duration
	Idle     time.Duration

	mu    sync.Mutex
	last  map[string]time.Time
	swept time.Time
}

// NewThrottle allows perSecond frames a second per transfer (≤ 0: all).
func NewThrottle(perSecond float64) *Throttle {
	t := &Throttle{Idle: 10 * time.Minute, last: map[string]time.Time{}}
	if perSecond > 0 {
		t.Interval = time.Duration(float64(time.Second) / perSecond)
	}
	return t
}

// Final reports whether s ends a transfer.
func Final(s syv1.TransferStatus) bool {
	switch s {
	case syv1.TransferStatus_TRANSFER_STATUS_COMPLETED, syv1.TransferStatus_TRANSFER_STATUS_FAILED,
		syv1.TransferStatus_TRANSFER_STATUS_CANCELLED:
		return true
	}
	return false
}

// Allow reports whether p should be published now.
func (t *Throttle) Allow(p *syv1.TransferProgress, now time.Time) bool {
	id := p.GetTransferId()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	if Final(p.GetStatus()) {
		delete(t.last, id)
		return true
	}
	if last, ok := t.last[id]; ok && now.Sub(last) < t.Interval {
		return false
	}
	t.last[id] = now
	return true
}

// Len is the number of transfers being tracked.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.last)
}

func (t *Throttle) sweep(now time.Time) {
	if t.Idle <= 0 || now.Sub(t.swept) < t.Idle/4 {
		return
	}
	t.swept = now
	for id, last := range t.last {
		if now.Sub(last) > t.Idle {
			delete(t.last, id)
		}
	}
}
