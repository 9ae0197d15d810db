// Package namespace prefixes every name Switchyard gives NATS and Redis —
// streams, KV buckets, the object store, subjects and Redis keys — so two
// installations (or two tests) can share one NATS account and one Redis
// without colliding. The namespace is SY_NAMESPACE; the default, empty,
// keeps the names unprefixed:
//
//	namespace  stream   bucket          subject        Redis key
//	""         SY_IN    sy_sessions     sy.in.3.<s>    sy:rt:<r>
//	"blue"     blue_SY_IN blue_sy_sessions blue.sy.in.3.<s> blue:sy:rt:<r>
//
// It is process-wide: every service of one process belongs to one
// installation (the dev stack runs all four with the same configuration).
// Set it once at start-up, before anything connects; pkg/process does,
// from config.Common.
package namespace

import (
	"fmt"
	"sync/atomic"
)

// MaxLen bounds a namespace: stream and bucket names stay well inside
// JetStream's limits with it prefixed.
const MaxLen = 32

type prefixes struct {
	name    string
	subject string // "blue." or ""
	stream  string // "blue_" or ""
	key     string // "blue:" or ""
}

var current atomic.Pointer[prefixes]

func init() { current.Store(&prefixes{}) }

// Check reports why ns cannot be a namespace: it must be empty or 1 to
// MaxLen letters, digits, '-' or '_' (a NATS subject token that is also
// valid in stream, bucket and Redis key names).
func Check(ns string) error {
	if len(ns) > MaxLen {
		return fmt.Errorf("namespace %q: at most %d characters", ns, MaxLen)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("namespace %q: only letters, digits, '-' and '_' (it prefixes NATS subjects, stream and bucket names)", ns)
		}
	}
	return nil
}

// Set makes ns the process's namespace.
func Set(ns string) error {
	if err := Check(ns); err != nil {
		return err
	}
	p := &prefixes{name: ns}
	if ns != "" {
		p.subject, p.stream, p.key = ns+".", ns+"_", ns+":"
	}
	current.Store(p)
	return nil
}

// Name is the process's namespace ("" by default).
func Name() string { return current.Load().name }

// SubjectPrefix is what precedes every subject: "<ns>." or "". Hot paths
// concatenate it with the rest of a subject in one expression (one
// allocation).
func SubjectPrefix() string { return current.Load().subject }

// Subject prefixes a subject (or a subject filter such as "sy.in.>").
func Subject(s string) string { return current.Load().subject + s }

// Stream prefixes a stream, KV bucket or object store name.
func Stream(s string) string { return current.Load().stream + s }

// Key prefixes a Redis key.
func Key(s string) string { return current.Load().key + s }
