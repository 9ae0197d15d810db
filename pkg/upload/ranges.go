package upload

import (
	"sort"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Ranges are sorted, merged, non-adjacent [start, end) byte ranges.
type Ranges []*syv1.ByteRange

// Add merges [start, end) into rs and returns the result and how many bytes
// were not covered before.
func (rs Ranges) Add(start, end int64) (Ranges, int64) {
	if end <= start {
		return rs, 0
	}
	before := rs.Covered()
	out := make(Ranges, 0, len(rs)+1)
	i := sort.Search(len(rs), func(i int) bool { return rs[i].GetEnd() >= start })
	out = append(out, rs[:i]...)
	for ; i < len(rs) && rs[i].GetStart() <= end; i++ {
		start = min(start, rs[i].GetStart())
		end = max(end, rs[i].GetEnd())
	}
	out = append(out, &syv1.ByteRange{Start: start, End: end})
	out = append(out, rs[i:]...)
	return out, out.Covered() - before
}

// Covered is the number of bytes in rs.
func (rs Ranges) Covered() int64 {
	var n int64
	for _, r := range rs {
		n += r.GetEnd() - r.GetStart()
	}
	return n
}

// Contains reports whether [start, end) is wholly in rs.
func (rs Ranges) Contains(start, end int64) bool {
	if end <= start {
		return true
	}
	i := sort.Search(len(rs), func(i int) bool { return rs[i].GetEnd() > start })
	return i < len(rs) && rs[i].GetStart() <= start && rs[i].GetEnd() >= end
}

// FirstGap is the first missing range of a file of size bytes (ok false:
// nothing is missing).
func (rs Ranges) FirstGap(size int64) (start, end int64, ok bool) {
	var pos int64
	for _, r := range rs {
		if r.GetStart() > pos {
			return pos, r.GetStart(), true
		}
		pos = max(pos, r.GetEnd())
	}
	if pos < size {
		return pos, size, true
	}
	return 0, 0, false
}
