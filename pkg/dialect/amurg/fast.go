package amurg

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// The fast path: a runtime's agent.output is nearly every frame the hub
// takes in, and encoding/json's reflection, run twice (the frame, then its
// payload), was a tenth of the hub's CPU at the persisted-ingest ceiling.
// decodeOutput parses such a frame once with fastjson (no reflection) and
// gives up on anything it does not recognise exactly, so Decode's full
// path answers it as before: another type, a key that encoding/json would
// match case-insensitively, a repeated key (encoding/json keeps the last),
// a null or a value of another type, an unknown key holding an object or a
// list (the depth limit is the full path's), control characters, bytes that are
// not UTF-8 and surrogate escapes (encoding/json writes U+FFFD for those;
// fastjson keeps them), an id or session_id that fails the token rule (the
// full path has the error). FuzzDecodeOutputFastPath checks that what it
// accepts equals what the full path makes.

var outputParsers fastjson.ParserPool

// decodeOutput returns the envelope of data when data is an agent.output
// frame the fast path is sure of, else ok false.
func decodeOutput(data []byte, now time.Time) (env *syv1.Envelope, ok bool) {
	// Other runtime frames (turn events, pings) skip the parse; one that
	// spells the type with escapes goes the full way, with the same result.
	if !bytes.Contains(data, []byte(`"agent.output"`)) || !plainJSON(data) || fastjson.ValidateBytes(data) != nil {
		return nil, false
	}
	p := outputParsers.Get()
	defer outputParsers.Put(p)
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	var top outputTop
	if !top.read(v) || top.typ != TypeAgentOutput || top.payload == nil {
		return nil, false
	}
	var body outputBody
	if !body.read(top.payload) {
		return nil, false
	}
	return top.envelope(&body, now)
}

// plainJSON reports that data has no byte the fast path leaves to
// encoding/json: control characters (JSON allows none in strings; frames
// are written on one line), invalid UTF-8, or a \u escape of a surrogate.
func plainJSON(data []byte) bool {
	if hasControl(data) || !utf8.Valid(data) {
		return false
	}
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`\u`))
		if i < 0 {
			return true
		}
		rest = rest[i+2:]
		if len(rest) > 1 && (rest[0] == 'd' || rest[0] == 'D') && strings.IndexByte("89abcdefABCDEF", rest[1]) >= 0 {
			return false
		}
	}
}

// hasControl reports whether data holds a byte below 0x20, eight bytes at
// a time: a word's byte b is below 0x20 when b - 0x20 borrows (sets the
// top bit) and b's own top bit was clear.
func hasControl(data []byte) bool {
	const highs, space = 0x8080808080808080, 0x2020202020202020
	for len(data) >= 8 {
		w := binary.LittleEndian.Uint64(data)
		if (w-space)&^w&highs != 0 {
			return true
		}
		data = data[8:]
	}
	for _, c := range data {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// outputTop is the frame's top level (Frame's fields).
type outputTop struct {
	typ, id, session, ts string
	payload              *fastjson.Value
}

// The keys of Frame and of agentOutputJSON, as encoding/json spells them.
var (
	topKeys  = []string{"type", "id", "session_id", "seq", "ts", "payload"}
	bodyKeys = []string{"session_id", "message_id", "seq", "channel", "content", "final"}
)

// visitKeys calls field with the index in keys of each key of object v
// and its value; false if v is not an object, a key is one the fast path
// leaves to encoding/json, or field says false.
func visitKeys(v *fastjson.Value, keys []string, field func(i int, v *fastjson.Value, ok bool) bool) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	ok, seen := true, 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		i, known := keyIndex(keys, k, &seen)
		if !known {
			ok = ok && ignorable(i, v)
			return
		}
		ok = field(i, v, ok)
	})
	return ok
}

func (t *outputTop) read(v *fastjson.Value) bool {
	return visitKeys(v, topKeys, func(i int, v *fastjson.Value, ok bool) bool {
		switch i {
		case 0:
			t.typ, ok = str(v, ok)
		case 1:
			t.id, ok = str(v, ok)
		case 2:
			t.session, ok = str(v, ok)
		case 3:
			_, ok = integer(v, ok) // Frame.seq: read, unused
		case 4:
			t.ts, ok = str(v, ok)
		case 5:
			ok = ok && v.Type() == fastjson.TypeObject
			t.payload = v
		}
		return ok
	})
}

// outputBody is agent.output's payload (agentOutputJSON).
type outputBody struct {
	session, messageID, channel, content string
	seq                                  int64
	final                                bool
}

func (b *outputBody) read(v *fastjson.Value) bool {
	return visitKeys(v, bodyKeys, func(i int, v *fastjson.Value, ok bool) bool {
		switch i {
		case 0:
			b.session, ok = str(v, ok)
		case 1:
			b.messageID, ok = str(v, ok)
		case 2:
			b.seq, ok = integer(v, ok)
		case 3:
			b.channel, ok = str(v, ok)
		case 4:
			b.content, ok = str(v, ok)
		case 5:
			switch v.Type() {
			case fastjson.TypeTrue:
				b.final = true
			case fastjson.TypeFalse:
				b.final = false
			default:
				ok = false
			}
		}
		return ok
	})
}

// keyIndex finds k among keys: (index, true) for an exact key seen for the
// first time; (-1, false) for a key encoding/json ignores; (-2, false) for
// one the fast path leaves to it (repeated, case-folded, not ASCII).
func keyIndex(keys []string, k []byte, seen *int) (int, bool) {
	for i, key := range keys {
		if string(k) == key {
			if *seen&(1<<i) != 0 {
				return -2, false
			}
			*seen |= 1 << i
			return i, true
		}
	}
	for _, c := range k {
		if c >= utf8.RuneSelf {
			return -2, false
		}
	}
	for _, key := range keys {
		if strings.EqualFold(string(k), key) {
			return -2, false
		}
	}
	return -1, false
}

// ignorable reports that a key keyIndex did not find is one encoding/json
// skips, with a value that cannot nest past MaxDepth.
func ignorable(i int, v *fastjson.Value) bool {
	t := v.Type()
	return i == -1 && t != fastjson.TypeObject && t != fastjson.TypeArray
}

func str(v *fastjson.Value, ok bool) (string, bool) {
	if !ok || v.Type() != fastjson.TypeString {
		return "", false
	}
	b, err := v.StringBytes()
	return string(b), err == nil
}

func integer(v *fastjson.Value, ok bool) (int64, bool) {
	if !ok || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	n, err := v.Int64()
	return n, err == nil
}

// envelope is Decode's result for a frame read by the fast path, or ok
// false where Decode has an error to give.
func (t *outputTop) envelope(b *outputBody, now time.Time) (*syv1.Envelope, bool) {
	if t.id != "" && !bus.ValidToken(t.id) {
		return nil, false
	}
	session := t.session
	switch {
	case b.session != "" && session != "" && b.session != session:
		return nil, false
	case b.session != "":
		session = b.session
	}
	if session == "" || !bus.ValidToken(session) {
		return nil, false
	}
	env := &syv1.Envelope{Id: t.id, Type: TypeAgentOutput, SessionId: session, Ts: t.ts}
	if env.Ts == "" {
		env.Ts = clock.Stamp(now)
	}
	env.Body = &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{
		SessionId: session, MessageId: b.messageID, Seq: b.seq, Channel: b.channel, Content: b.content, Final: b.final,
	}}
	return env, true
}
