package upload

import (
	"testing"
)

func TestRangesAdd(t *testing.T) {
	var rs Ranges
	steps := []struct {
		start, end, delta int64
	}{{10, 20, 10}, {30, 40, 10}, {15, 35, 10}, {0, 5, 5}, {5, 10, 5}, {0, 40, 0}, {39, 45, 5}}
	for _, s := range steps {
		var d int64
		rs, d = rs.Add(s.start, s.end)
		if d != s.delta {
			t.Fatalf("add [%d,%d): delta %d, want %d (%v)", s.start, s.end, d, s.delta, rs)
		}
	}
	if len(rs) != 1 || rs[0].GetStart() != 0 || rs[0].GetEnd() != 45 || rs.Covered() != 45 {
		t.Fatalf("ranges %v", rs)
	}
	if _, _, missing := rs.FirstGap(45); missing || !rs.Contains(3, 44) {
		t.Fatal("complete ranges report a gap")
	}
	if s, e, missing := rs.FirstGap(50); !missing || s != 45 || e != 50 {
		t.Fatalf("gap %d-%d %v", s, e, missing)
	}
}

// FuzzRanges checks Add against a bitmap.
func FuzzRanges(f *testing.F) {
	f.Add([]byte{1, 5, 3, 9, 0, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var rs Ranges
		var bits [256]bool
		for i := 0; i+1 < len(ops); i += 2 {
			a, b := int64(ops[i]), int64(ops[i+1])
			var d, want int64
			rs, d = rs.Add(a, b)
			for x := a; x < b; x++ {
				if !bits[x] {
					bits[x] = true
					want++
				}
			}
			if d != want {
				t.Fatalf("delta %d, want %d", d, want)
			}
			for j := 1; j < len(rs); j++ {
				if rs[j].GetStart() <= rs[j-1].GetEnd() {
					t.Fatalf("ranges not merged: %v", rs)
				}
			}
		}
		var n int64
		for _, b := range bits {
			if b {
				n++
			}
		}
		if rs.Covered() != n {
			t.Fatalf("covered %d, want %d", rs.Covered(), n)
		}
	})
}

func TestPlanPrefersFurthestChunk(t *testing.T) {
	refs := []chunkRef{{"a", 0, 10}, {"b", 0, 20}, {"c", 5, 30}, {"d", 20, 5}, {"e", 35, 10}}
	segs, err := plan(refs, 45)
	if err != nil {
		t.Fatal(err)
	}
	want := []segment{{"b", 0, 0, 20}, {"c", 5, 20, 35}, {"e", 35, 35, 45}}
	if len(segs) != len(want) {
		t.Fatalf("plan %v, want %v", segs, want)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Fatalf("plan %v, want %v", segs, want)
		}
	}
	if _, err := plan([]chunkRef{{"a", 0, 10}, {"b", 11, 5}}, 16); !IsReason(err, ReasonIncomplete) {
		t.Fatalf("plan with a gap: %v", err)
	}
}

func TestFileIDAndPaths(t *testing.T) {
	id := NewID()
	got, idx, ok := ParseFileID(FileID(id, 12))
	if !ok || got != id || idx != 12 {
		t.Fatalf("parse %s: %s %d %v", FileID(id, 12), got, idx, ok)
	}
	for _, bad := range []string{"", id, id + "-f", id + "-fx", id + "-f01", "file-123", "upload-a.b-f1"} {
		if _, _, ok := ParseFileID(bad); ok {
			t.Fatalf("ParseFileID(%q) ok", bad)
		}
	}
	for in, want := range map[string]string{"a/b": "a/b", `data\game.pak`: "data/game.pak", "./x//y": "x/y"} {
		if c, err := CleanPath(in); err != nil || c != want {
			t.Fatalf("CleanPath(%q) = %q, %v", in, c, err)
		}
	}
	for _, bad := range []string{"", "/abs", "..", "../x", "a/../../x", `C:\x`, "a\x00b", "."} {
		if _, err := CleanPath(bad); err == nil {
			t.Fatalf("CleanPath(%q) accepted", bad)
		}
	}
}
