package auth_test

import (
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/auth"
)

func TestParseTableErrors(t *testing.T) {
	cases := []struct {
		entries []string
		index   string // the 1-based entry the error names
	}{
		{[]string{"secret-token-1"}, "entry 1"},
		{[]string{"=alice"}, "entry 1"},
		{[]string{"secret-token-2="}, "entry 1"},
		{[]string{" = "}, "entry 1"},
		{[]string{""}, "entry 1"},
		{[]string{"ok=alice", "secret-token-3"}, "entry 2"},
		{[]string{"ok=alice", "b=bob", "  =carol"}, "entry 3"},
	}
	for _, tc := range cases {
		tb, err := auth.ParseTable(tc.entries)
		if err == nil {
			t.Errorf("ParseTable(%q) = %v, want an error", tc.entries, tb)
			continue
		}
		if !strings.Contains(err.Error(), tc.index) {
			t.Errorf("ParseTable(%q): %q does not name %s", tc.entries, err, tc.index)
		}
		// Tokens are secrets: errors never echo them.
		for _, e := range tc.entries {
			tok, _, _ := strings.Cut(e, "=")
			if tok = strings.TrimSpace(tok); strings.HasPrefix(tok, "secret") && strings.Contains(err.Error(), tok) {
				t.Errorf("error %q leaks the token %q", err, tok)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	tb, err := auth.ParseTable([]string{
		"dev-client-token=dev",
		"  spaced-token  =  bob  ",
		"tok-with=equals=carol=x", // the token ends at the first '='
		"dup=first",
		"dup=second", // a later entry wins
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token, principal string
		ok               bool
	}{
		{"dev-client-token", "dev", true},
		{"spaced-token", "bob", true},
		{"  spaced-token  ", "", false}, // tokens are compared exactly, after trimming the table only
		{"tok-with", "equals=carol=x", true},
		{"dup", "second", true},
		{"", "", false},
		{"DEV-CLIENT-TOKEN", "", false},
		{"dev-client-token ", "", false},
		{"dev", "", false}, // a principal is not a token
	}
	for _, tc := range cases {
		p, ok := tb.Lookup(tc.token)
		if p != tc.principal || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.token, p, ok, tc.principal, tc.ok)
		}
	}
	if tb.Len() != 4 {
		t.Errorf("Len = %d, want 4 distinct tokens", tb.Len())
	}
	empty, err := auth.ParseTable(nil)
	if err != nil || empty.Len() != 0 {
		t.Fatalf("ParseTable(nil) = %v, %v", empty, err)
	}
	if _, ok := empty.Lookup("anything"); ok {
		t.Error("empty table accepted a token")
	}
}

func TestAllowsRuntime(t *testing.T) {
	tb, err := auth.ParseTable([]string{"any-token=*", "rt1-token=rt-1", "star-prefix=rt-*"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token, rid string
		want       bool
	}{
		{"any-token", "rt-1", true},
		{"any-token", "prod-runtime-01", true},
		{"rt1-token", "rt-1", true},
		{"rt1-token", "rt-2", false},
		{"rt1-token", "RT-1", false},
		{"star-prefix", "rt-7", false}, // only a bare "*" is a wildcard
		{"star-prefix", "rt-*", true},
		{"unknown", "rt-1", false},
		{"", "rt-1", false},
		{"", "*", false},
	}
	for _, tc := range cases {
		if got := tb.AllowsRuntime(tc.token, tc.rid); got != tc.want {
			t.Errorf("AllowsRuntime(%q, %q) = %v, want %v", tc.token, tc.rid, got, tc.want)
		}
	}
}
