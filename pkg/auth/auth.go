// Package auth holds the static token tables: runtime tokens (checked by
// the relay on runtime.hello) and client tokens (checked by gateways). Only
// SHA-256 digests of tokens are kept in memory, and tokens are never logged.
package auth

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// Any is the principal that lets a runtime token serve any runtime id.
const Any = "*"

// Table maps token digests to principals (user or runtime ids).
type Table struct {
	byDigest map[[sha256.Size]byte]string
}

// ParseTable reads entries of the form "token=principal".
func ParseTable(entries []string) (*Table, error) {
	t := &Table{byDigest: make(map[[sha256.Size]byte]string, len(entries))}
	for i, e := range entries {
		token, principal, ok := strings.Cut(e, "=")
		token, principal = strings.TrimSpace(token), strings.TrimSpace(principal)
		if !ok || token == "" || principal == "" {
			return nil, fmt.Errorf("auth: entry %d is not token=principal", i+1)
		}
		t.byDigest[sha256.Sum256([]byte(token))] = principal
	}
	return t, nil
}

// Lookup returns the principal of token.
func (t *Table) Lookup(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	p, ok := t.byDigest[sha256.Sum256([]byte(token))]
	return p, ok
}

// AllowsRuntime reports whether token may register runtime id rid.
func (t *Table) AllowsRuntime(token, rid string) bool {
	p, ok := t.Lookup(token)
	return ok && (p == Any || p == rid)
}

// Len is the number of tokens.
func (t *Table) Len() int { return len(t.byDigest) }
