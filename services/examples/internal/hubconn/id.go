package hubconn

import "strings"

// maxIDLen is the longest id the hub accepts (runtime, endpoint, device).
const maxIDLen = 128

// ValidID reports whether s is an id the hub accepts: 1-128 characters of
// [A-Za-z0-9_-].
func ValidID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for _, r := range s {
		if !isIDRune(r) {
			return false
		}
	}
	return true
}

// HostID is prefix + the host name ("localhost" when unknown) with every
// character the hub refuses in ids replaced by '-', cut to the id limit:
// a default runtime or device id.
func HostID(prefix, host string) string {
	if host == "" {
		host = "localhost"
	}
	id := prefix + strings.Map(func(r rune) rune {
		if isIDRune(r) {
			return r
		}
		return '-'
	}, host)
	return id[:min(len(id), maxIDLen)]
}

func isIDRune(r rune) bool {
	return r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
