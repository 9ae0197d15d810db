package edge

import (
	"slices"
	"sync"
	"testing"
)

// drained runs once each time the queue empties, as the queue's work:
// after everything queued before it, before anything queued while it
// runs (which then gets a drained of its own).
func TestSerialDrained(t *testing.T) {
	s := newSerial(16)
	var mu sync.Mutex
	var got []string
	log := func(x string) {
		mu.Lock()
		got = append(got, x)
		mu.Unlock()
	}
	done := make(chan struct{})
	again := true
	s.drained = func() {
		log("drained")
		if again {
			again = false
			s.push(func() { log("late") })
			return
		}
		close(done)
	}
	block := make(chan struct{})
	s.inline(func() {
		log("first")
		s.push(func() { log("second") })
		s.push(func() { <-block; log("third") })
	})
	close(block)
	<-done
	s.stop()
	want := []string{"first", "second", "third", "drained", "late", "drained"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	// Inline work with nothing behind it is followed by drained at once.
	s2 := newSerial(4)
	n := 0
	s2.drained = func() { n++ }
	s2.inline(func() {})
	s2.inline(func() {})
	if n != 2 {
		t.Fatalf("drained ran %d times after two inline calls, want 2", n)
	}
}

// wait returns only once every queued function has run; busy says whether
// one is queued or running.
func TestSerialWait(t *testing.T) {
	s := newSerial(16)
	if s.busy() {
		t.Fatal("a new queue is busy")
	}
	block := make(chan struct{})
	ran := 0
	s.push(func() { <-block; ran++ })
	s.push(func() { ran++ })
	if !s.busy() {
		t.Fatal("a queue with work is not busy")
	}
	close(block)
	s.wait()
	if ran != 2 || s.busy() {
		t.Fatalf("after wait: %d of 2 ran, busy %v", ran, s.busy())
	}
}
