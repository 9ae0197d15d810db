package amurg

import (
	"strings"
	"testing"
	"time"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var benchOutput = []byte(`{"type":"agent.output","session_id":"6f1c2d9e-4b7a-4c1e-9a55-0f2b8c7d1e3a","ts":"2024-01-15T10:30:06Z","payload":{"session_id":"6f1c2d9e-4b7a-4c1e-9a55-0f2b8c7d1e3a","message_id":"out-uuid","seq":1,"channel":"stdout","content":"` + strings.Repeat("x", 100) + `","final":false}}`)

// BenchmarkDecodeAgentOutput: the gateway's cost to accept one runtime frame.
func BenchmarkDecodeAgentOutput(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchOutput)))
	for b.Loop() {
		if _, err := Decode(benchOutput, RoleRuntime, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeAgentOutput: the gateway's cost to render one transcript
// event; paid once per pod, not per subscriber.
func BenchmarkEncodeAgentOutput(b *testing.B) {
	env, derr := Decode(benchOutput, RoleRuntime, time.Now())
	if derr != nil {
		b.Fatal(derr)
	}
	env.Seq = 42
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(env, RoleClient); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = syv1.Envelope{}
