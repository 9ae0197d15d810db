package hubconn

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields exponentially growing, jittered reconnect delays.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// Next returns the delay before the next attempt: Min·2^n capped at Max,
// with the upper half jittered ("equal jitter").
func (b *Backoff) Next() time.Duration {
	d := b.Min
	for i := 0; i < b.attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d < b.Max {
		b.attempt++
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Reset starts the sequence over, after a connection succeeded.
func (b *Backoff) Reset() { b.attempt = 0 }

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
