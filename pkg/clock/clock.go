// Package clock is the time source of the hub's services and the one
// format of a timestamp on the bus (the same one every dialect shows:
// ISO 8601 in UTC with milliseconds). Services take a Clock so that unit
// tests can move time by hand (Fake).
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the real clock.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Format is the layout of Stamp.
const Format = "2006-01-02T15:04:05.000Z07:00"

// Stamp renders t as an envelope `ts` (and record) timestamp.
func Stamp(t time.Time) string { return t.UTC().Format(Format) }

// Fake is a clock that moves only when told to. The zero value starts at
// the zero time; NewFake starts at a given instant.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
