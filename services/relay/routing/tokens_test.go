package routing

import (
	"reflect"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/auth"
)

func TestIndexRoundTrip(t *testing.T) {
	es := []indexEntry{{auth.Digest("a"), 1700000000000}, {auth.Digest("b"), 1700000001000}}
	if got := parseIndex(formatIndex(es)); !reflect.DeepEqual(got, es) {
		t.Fatalf("round trip: %v", got)
	}
	junk := append(formatIndex(es), []byte("not a line\n"+auth.Digest("c")+" soon\n\n")...)
	if got := parseIndex(junk); !reflect.DeepEqual(got, es) {
		t.Fatalf("junk lines kept: %v", got)
	}
}
