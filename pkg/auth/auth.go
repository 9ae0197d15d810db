// Package auth holds the static token tables: runtime tokens (checked by
// the relay on runtime.hello) and client tokens (checked by gateways). Only
// SHA-256 digests of tokens are kept in memory, and tokens are never logged.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/kind"
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

// Digest is the hex SHA-256 of a token: the only form in which the hub
// stores a runtime token (KV key t.<digest>) or passes it between services
// after runtime.hello (refresh requests carry the digest, not the token).
func Digest(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

// ValidDigest reports whether s looks like a Digest (64 lower-case hex).
func ValidDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// NewToken returns a fresh hub-issued token: 32 random bytes, base64url
// without padding.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// AllowsRuntimeDigest is AllowsRuntime for a token known only by its Digest.
func (t *Table) AllowsRuntimeDigest(digest, rid string) bool {
	raw, err := hex.DecodeString(digest)
	if err != nil || len(raw) != sha256.Size {
		return false
	}
	p, ok := t.byDigest[[sha256.Size]byte(raw)]
	return ok && (p == Any || p == rid)
}

// Envelope types of requests on bus.SubjRelayTokens() (gateway → relay, the
// admin REST API): revoke every token of a runtime id, or issue a new one.
// They alias kind.TokensRevoke and kind.TokensIssue (use those); they go
// once every caller has moved.
const (
	TypeTokensRevoke = kind.TokensRevoke
	TypeTokensIssue  = kind.TokensIssue
)
