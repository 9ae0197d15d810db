// Package frame is the JSON envelope of the runtime/client dialect
// (type, id, session_id, seq, ts, payload) as the example programs send and
// receive it, plus the id and timestamp helpers they share.
package frame

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/clock"
)

// Frame is one inbound message. Seq is the hub's per-session transcript
// position; it is set on frames that belong to a session transcript.
type Frame struct {
	Type      string          `json:"type"`
	ID        string          `json:"id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Seq       int64           `json:"seq,omitempty"`
	Ts        string          `json:"ts,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// Decode unmarshals the payload into v.
func (f Frame) Decode(v any) error {
	if len(f.Payload) == 0 {
		return fmt.Errorf("%s frame has no payload", f.Type)
	}
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("decode %s payload: %w", f.Type, err)
	}
	return nil
}

// Out is one outbound message; Payload is marshalled when it is written.
type Out struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Ts        string `json:"ts"`
	Payload   any    `json:"payload,omitempty"`
}

// New builds a frame with a fresh id and the current time. sessionID goes
// to the envelope; pass "" for frames the dialect sends without one.
func New(typ, sessionID string, payload any) Out {
	return Out{Type: typ, ID: NewID(), SessionID: sessionID, Ts: Now(), Payload: payload}
}

// Control builds an id-less, session-less frame (runtime.hello, ping, pong),
// the way the protocol document shows them.
func Control(typ string, payload any) Out {
	return Out{Type: typ, Ts: Now(), Payload: payload}
}

// Now is the current time as RFC 3339 UTC with milliseconds.
func Now() string { return clock.Stamp(time.Now()) }

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
