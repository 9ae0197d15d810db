package upload

import (
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// A chunk subject reads back in every namespace, and a subject of another
// namespace is not taken for one of ours.
func TestChunkSubjectRoundTrip(t *testing.T) {
	t.Cleanup(func() { _ = namespace.Set("") })
	for _, ns := range []string{"", "blue"} {
		if err := namespace.Set(ns); err != nil {
			t.Fatal(err)
		}
		subj := ChunkSubject("u1", 3, 1048576, 4096)
		o, l, ok := parseChunkSubject(subj)
		if !ok || o != 1048576 || l != 4096 {
			t.Errorf("namespace %q: %s → %d %d %v", ns, subj, o, l, ok)
		}
	}
	_ = namespace.Set("green")
	if _, _, ok := parseChunkSubject("blue.sy.upc.u1.3.0.10"); ok {
		t.Errorf("green parsed blue's chunk subject")
	}
}
