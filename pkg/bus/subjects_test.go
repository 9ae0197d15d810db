package bus_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

// Partition is part of the wire contract: every service of a deployment
// (and every version during a rolling upgrade) must map a session to the
// same partition, so the values are pinned.
func TestPartitionPinned(t *testing.T) {
	cases := []struct {
		session string
		n, want int
	}{
		{"session-uuid", 16, 1}, {"session-uuid", 3, 0}, {"session-uuid", 1024, 977},
		{"a", 16, 12}, {"a", 3, 1}, {"a", 1024, 300},
		{"550e8400-e29b-41d4-a716-446655440000", 16, 8}, {"550e8400-e29b-41d4-a716-446655440000", 1024, 296},
		{"s-1", 16, 4}, {"Z", 16, 13},
	}
	for _, tc := range cases {
		if got := bus.Partition(tc.session, tc.n); got != tc.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tc.session, tc.n, got, tc.want)
		}
	}
}

func TestPartitionStableAndInRange(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2, 3, 16, 1000, 1024} {
		counts := map[int]int{}
		for i := 0; i < 4000; i++ {
			s := "sess-" + strconv.Itoa(i)
			p := bus.Partition(s, n)
			if p != bus.Partition(s, n) {
				t.Fatalf("Partition(%q, %d) not stable", s, n)
			}
			hi := max(n, 1)
			if p < 0 || p >= hi {
				t.Fatalf("Partition(%q, %d) = %d, out of [0,%d)", s, n, p, hi)
			}
			counts[p]++
		}
		if n <= 1 && len(counts) != 1 {
			t.Errorf("n=%d: %d partitions used, want 1", n, len(counts))
		}
		// Spread: with 4000 sessions over 16 partitions, each gets a fair share.
		if n == 16 {
			for p := 0; p < 16; p++ {
				if counts[p] < 150 || counts[p] > 350 {
					t.Errorf("partition %d of 16 got %d of 4000 sessions", p, counts[p])
				}
			}
		}
	}
}

func TestSubjects(t *testing.T) {
	const s = "session-uuid"
	cases := []struct{ got, want string }{
		{bus.InboundSubject(16, s), "sy.in.1." + s},
		{bus.InboundSubject(1, s), "sy.in.0." + s},
		{bus.RuntimeSubject(16, s), "sy.rt.1." + s},
		{bus.RuntimeSubject(1024, s), "sy.rt.977." + s},
		{bus.TranscriptSubject(s), "sy.evt." + s},
		{bus.PodSubject("gw-1"), "sy.gw.gw-1"},
		{bus.SessionCreatedSubject(s), "sy.sess.created." + s},
		{bus.SessionFromTranscriptSubject("sy.evt." + s), s},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// The inbound and runtime subject of a session are in the same
	// partition for the same partition count.
	for i := 0; i < 100; i++ {
		sid := "x" + strconv.Itoa(i)
		in := strings.Split(bus.InboundSubject(7, sid), ".")
		rt := strings.Split(bus.RuntimeSubject(7, sid), ".")
		if in[2] != rt[2] || in[3] != sid || len(in) != 4 {
			t.Fatalf("subjects of %s: %v %v", sid, in, rt)
		}
	}
}

func TestValidToken(t *testing.T) {
	good := []string{"a", "Z", "0", "-", "_", "session-uuid", "S_1-2", strings.Repeat("x", 128)}
	bad := []string{"", strings.Repeat("x", 129), "a.b", "a b", "*", ">", "a*", "a>", "a\tb", "a\x00", "ü", "a/b", "a:b", "a\r\n", "é"}
	for _, s := range good {
		if !bus.ValidToken(s) {
			t.Errorf("ValidToken(%q) = false", s)
		}
	}
	for _, s := range bad {
		if bus.ValidToken(s) {
			t.Errorf("ValidToken(%q) = true", s)
		}
	}
}
