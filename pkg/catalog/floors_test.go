package catalog

import (
	"strconv"
	"testing"
)

func TestFloorsKeepTheHighestSeq(t *testing.T) {
	var f Floors
	f.Note("s1", 5)
	f.Note("s1", 3) // a redelivered message's older seq
	f.Note("s2", 1)
	got := f.take()
	if got["s1"] != 5 || got["s2"] != 1 || len(got) != 2 {
		t.Fatalf("take = %v", got)
	}
	if again := f.take(); len(again) != 0 {
		t.Fatalf("second take = %v", again)
	}
}

// BenchmarkFloorsNote: what keeping the floor adds to each transcript
// append (100 sessions streaming).
func BenchmarkFloorsNote(b *testing.B) {
	var f Floors
	sessions := make([]string, 100)
	for i := range sessions {
		sessions[i] = "session-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Note(sessions[i%len(sessions)], int64(i))
		i++
	}
}
