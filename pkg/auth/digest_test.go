package auth_test

import (
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/auth"
)

func TestNewTokenAndDigest(t *testing.T) {
	a, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := auth.NewToken()
	if len(a) != 43 || a == b || strings.ContainsAny(a, "+/=") {
		t.Fatalf("tokens %q %q: want 43 distinct base64url characters", a, b)
	}
	d := auth.Digest(a)
	if !auth.ValidDigest(d) || auth.Digest(a) != d || d == auth.Digest(b) || strings.Contains(d, a) {
		t.Fatalf("digest %q", d)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(d), d[:63] + "g"} {
		if auth.ValidDigest(bad) {
			t.Errorf("ValidDigest(%q) = true", bad)
		}
	}
}

func TestAllowsRuntimeDigest(t *testing.T) {
	tb, err := auth.ParseTable([]string{"any-token=*", "one-token=rt-1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token, rid string
		want       bool
	}{
		{"any-token", "rt-9", true},
		{"one-token", "rt-1", true},
		{"one-token", "rt-2", false},
		{"other", "rt-1", false},
	}
	for _, c := range cases {
		if got := tb.AllowsRuntimeDigest(auth.Digest(c.token), c.rid); got != c.want || got != tb.AllowsRuntime(c.token, c.rid) {
			t.Errorf("AllowsRuntimeDigest(%s, %s) = %v, want %v", c.token, c.rid, got, c.want)
		}
	}
	if tb.AllowsRuntimeDigest("not-hex", "rt-1") {
		t.Error("a malformed digest was accepted")
	}
}
