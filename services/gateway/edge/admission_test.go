package edge

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The lag bound follows the partition's measured drain rate; the count
// bound holds whatever the rate; a small backlog is never paused for lag.
func TestAdmissionBehind(t *testing.T) {
	a := newAdmission(2000, time.Second, 1, prometheus.NewRegistry())
	t0 := time.Unix(1000, 0)
	step := func(i int) time.Time { return t0.Add(time.Duration(i) * admissionPoll) }
	poll := func(i int, backlog int64, acked uint64) bool {
		over := a.behind(0, backlog, acked, step(i))
		a.lastAt = step(i)
		return over
	}
	if poll(0, 50, 0) {
		t.Fatal("50 frames waiting (under minLagBacklog) paused")
	}
	// A partition draining 1,000 frames/s: 500 waiting is half a second.
	var acked uint64
	for i := 1; i <= 20; i++ {
		acked += 250
		if over := poll(i, 500, acked); over && i > 10 {
			t.Fatalf("poll %d: 500 waiting at ≈1,000/s (rate %.0f/s) paused under a 1 s lag bound", i, a.rate[0])
		}
	}
	if r := a.rate[0]; r < 900 || r > 1100 {
		t.Fatalf("drain rate %.0f/s, want ≈ 1,000", r)
	}
	// It slows to 100 frames/s: 500 waiting is 5 s.
	over := false
	for i := 21; i <= 40 && !over; i++ {
		acked += 25
		over = poll(i, 500, acked)
	}
	if !over {
		t.Fatalf("500 waiting at ≈100/s (rate %.0f/s) not paused", a.rate[0])
	}
	// Stopped (the session service is down): the count bound alone.
	b := newAdmission(2000, 0, 1, prometheus.NewRegistry())
	if b.behind(0, 1999, 0, t0) || !b.behind(0, 2001, 0, t0) {
		t.Fatal("count bound 2,000: want paused above it only")
	}
	if newAdmission(0, 0, 1, prometheus.NewRegistry()) != nil {
		t.Fatal("both bounds off must disable admission")
	}
}
