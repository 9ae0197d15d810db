package push

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseFilter: any query parses to a filter of known types or a
// FilterError (HTTP 400), never a panic or an empty filter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "types=1,2", "types=Progress", "types=3&types=8", "types=0", "types=%zz", "types=1,,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		flt, err := ParseFilter(v)
		var fe *FilterError
		switch {
		case err != nil && !errors.As(err, &fe):
			t.Fatalf("%q: untyped error %v", q, err)
		case err == nil && (flt.Types == 0 || flt.Types&^AllTypes != 0):
			t.Fatalf("%q: filter %d", q, flt.Types)
		}
	})
}
