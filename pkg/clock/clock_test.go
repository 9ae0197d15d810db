package clock

import (
	"testing"
	"time"
)

func TestStampMatchesTheWireFormat(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	if got, want := Stamp(at), "2024-05-06T06:08:09.123Z"; got != want {
		t.Fatalf("Stamp = %q, want %q", got, want)
	}
}

func TestFakeMovesOnlyWhenTold(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	f := NewFake(start)
	if !f.Now().Equal(start) {
		t.Fatalf("Now = %v", f.Now())
	}
	f.Advance(90 * time.Second)
	if got := f.Now().Sub(start); got != 90*time.Second {
		t.Fatalf("advanced by %v", got)
	}
}
