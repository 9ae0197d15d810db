package amurg

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// fastSeeds are agent.output frames the fast path takes (the first
// fastTakes), then near misses it must leave to the full path.
const fastTakes = 6

var fastSeeds = []string{
	string(benchOutput),
	`{"type":"agent.output","session_id":"s","payload":{"session_id":"s","message_id":"m","seq":1,"channel":"stdout","content":"a","final":true}}`,
	`{"type":"agent.output","payload":{"session_id":"s","content":"only the payload names the session"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"only the frame names the session"}}`,
	`{"type":"agent.output","id":"f-1","session_id":"s","extra":1,"payload":{"content":"\u003cb\u003e \"q\" \\ \/ \n","ignored":"x"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"a\u0001b"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"\ud83d\ude00 a pair"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"\ud800 alone"}}`,
	"{\"type\":\"agent.output\",\"session_id\":\"s\",\"payload\":{\"content\":\"raw \x01 control\"}}",
	"{\"type\":\"agent.output\",\"session_id\":\"s\",\"payload\":{\"content\":\"bad \xff utf-8\"}}",
	"{\n  \"type\": \"agent.output\",\n  \"session_id\": \"s\",\n  \"payload\": {\"content\": \"pretty\"}\n}",
	`{"type":"agent.output","Session_ID":"s","payload":{"content":"folded key"}}`,
	`{"type":"agent.output","session_id":"s","session_id":"t","payload":{"content":"repeated key"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"x","seq":1.5}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"x","seq":"1"}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":null}}`,
	`{"type":"agent.output","session_id":"s","payload":{"content":"x","final":0}}`,
	`{"type":"agent.output","session_id":"s","payload":null}`,
	`{"type":"agent.output","session_id":"s"}`,
	`{"type":"agent.output","session_id":"a","payload":{"session_id":"b"}}`,
	`{"type":"agent.output","session_id":"a.b","payload":{}}`,
	`{"type":"agent.output","id":"bad id","session_id":"s","payload":{}}`,
	`{"type":"agent.output","session_id":"s","deep":[[[[1]]]],"payload":{}}`,
	`{"type":"agent.output","session_id":"s","seq":9223372036854775808,"payload":{}}`,
	`{"type":"agent.output","session_id":"s","payload":{}} trailing`,
	`{"type":"turn.started","session_id":"s","payload":{}}`,
	`{"type":"agent.outpu\u0074","session_id":"s","payload":{}}`,
	`["agent.output"]`,
}

// FuzzDecodeOutputFastPath: what the fast path accepts, the full path
// accepts as the same envelope.
func FuzzDecodeOutputFastPath(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeOutput(data, now)
		if !ok {
			return
		}
		full, derr := decodeFull(data, RoleRuntime, now)
		if derr != nil {
			t.Fatalf("the fast path took %q, the full path refuses it: %v", data, derr)
		}
		if !proto.Equal(fast, full) {
			t.Fatalf("fast path and full path differ for %q\nfast: %s\nfull: %s", data, prototext.Format(fast), prototext.Format(full))
		}
	})
}

// TestDecodeOutputFastPathTakes: the frames runtimes send go the fast way
// (else the fuzz test above checks nothing), and the near misses do not.
func TestDecodeOutputFastPathTakes(t *testing.T) {
	now := time.Now()
	takes := map[string]bool{}
	for _, s := range fastSeeds[:fastTakes] {
		takes[s] = true
	}
	for _, s := range fastSeeds {
		_, ok := decodeOutput([]byte(s), now)
		if ok != takes[s] {
			t.Errorf("fast path took=%v, want %v: %s", ok, takes[s], s)
		}
		// Either way Decode's answer is the full path's.
		env, derr := Decode([]byte(s), RoleRuntime, now)
		full, fderr := decodeFull([]byte(s), RoleRuntime, now)
		if (derr == nil) != (fderr == nil) || (derr != nil && derr.Code != fderr.Code) || !proto.Equal(env, full) {
			t.Errorf("Decode and the full path differ for %s: %v / %v", s, derr, fderr)
		}
	}
}

func TestHasControl(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", false}, {"abc", false}, {strings.Repeat("x", 64), false}, {strings.Repeat("~", 17) + " ", false},
		{"\x1f", true}, {strings.Repeat("x", 15) + "\n", true}, {"\x00" + strings.Repeat("x", 8), true},
		{"\xff\xfe\x80\x7f\x20\x21\x40\x60", false}, {"\xa0\x9f\x1f\xff\xff\xff\xff\xff", true},
	} {
		if got := hasControl([]byte(c.s)); got != c.want {
			t.Errorf("hasControl(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}
