package jsondepth

import (
	"encoding/json"
	"strings"
	"testing"
)

func nested(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

func TestExceeds(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{}`, 1, false},
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`{"s":"[[[[{{{{"}`, 1, false},   // brackets in strings do not count
		{`{"s":"\"[[[[{{{{"}`, 1, false}, // nor after an escaped quote
		{`{"s":"\\"}`, 1, false},         // an escaped backslash ends the escape
		{nested(64), 64, false},
		{nested(65), 64, true},
		{nested(5000), 64, true},
		{`[[[`, 2, true}, // unbalanced: still counted
	} {
		if got := Exceeds([]byte(c.in), c.max); got != c.want {
			t.Errorf("Exceeds(%.40q, %d) = %v, want %v", c.in, c.max, got, c.want)
		}
	}
}

// FuzzExceeds: for valid JSON the scan agrees with the depth a decoder sees.
func FuzzExceeds(f *testing.F) {
	f.Add(`{"a":[1,{"b":"[x"}]}`, 2)
	f.Add(nested(10), 9)
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 0 || max > 100 || !json.Valid([]byte(in)) {
			return
		}
		var v any
		_ = json.Unmarshal([]byte(in), &v)
		if got, want := Exceeds([]byte(in), max), depth(v) > max; got != want {
			t.Fatalf("Exceeds(%q, %d) = %v, decoded depth %d", in, max, got, depth(v))
		}
	})
}

func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}
