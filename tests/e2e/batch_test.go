package e2e

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

// TestRuntimeBurstIsBatched: frames a runtime sends faster than its
// gateway reads them (here a burst in one TCP write, over four sessions
// that share the one partition, so that batches hold several sessions,
// which the session service handles side by side) go to SY_IN as batches,
// fewer stored messages than frames; a subscriber still gets every frame
// once, in order per session, with consecutive seqs, and each frame keeps
// a trace of its own from the runtime's gateway through the session
// service.
func TestRuntimeBurstIsBatched(t *testing.T) {
	// SY_DIRECT_APPEND off: every frame goes through SY_IN (as it does
	// before a session's receipt, TestRuntimeOutputStoredOnce), so the
	// whole burst is batched.
	h := startHub(t, hubOptions{env: map[string]string{"SY_PARTITIONS": "1", "SY_DIRECT_APPEND": "false"}})
	rt := h.hello(wspeer.DialCorked(t, h.ws(0, "/ws/runtime"), waitLimit), "r1", "ep1")
	c := h.connectClient(0, clientToken)
	var sids []string
	for range 4 {
		sid := h.createSession(rt, "ep1", clientToken)
		subscribe(c, sid, 0)
		sids = append(sids, sid)
	}
	framesBefore, messagesBefore := batchMetrics(t, h.metrics(0))

	const n = 200
	burst := make([]any, n)
	for i := range burst {
		sid := sids[i%len(sids)]
		burst[i] = map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "seq": i + 1, "channel": "stdout", "content": strconv.Itoa(i), "final": i >= n-len(sids)}}
	}
	if err := rt.Burst(burst...); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}     // session → index of the burst frame it must get next
	last := map[string]float64{} // session → seq of its last frame
	for i, sid := range sids {
		next[sid] = i
	}
	for range n {
		p := payload(c.Expect("agent.output"))
		sid, _ := p["session_id"].(string)
		want, ok := next[sid]
		if !ok {
			t.Fatalf("agent.output for an unknown session: %v", p)
		}
		if p["content"] != strconv.Itoa(want) {
			t.Fatalf("session %s: got frame %v, want %d (out of order, lost or duplicated)", sid, p["content"], want)
		}
		seq := p["seq"].(float64)
		if prev, seen := last[sid]; seen && seq != prev+1 {
			t.Fatalf("session %s: seq %v after %v", sid, seq, prev)
		}
		next[sid], last[sid] = want+len(sids), seq
	}

	frames, messages := batchMetrics(t, h.metrics(0))
	frames, messages = frames-framesBefore, messages-messagesBefore
	t.Logf("%d frames published in %d SY_IN messages", int(frames), int(messages))
	if frames != n {
		t.Fatalf("published %v frames of the burst, want %d (each once)", frames, n)
	}
	if messages > n/4 {
		t.Fatalf("%d frames in one write took %v SY_IN messages: the gateway did not batch them", n, messages)
	}

	// Each frame's session.handle is a child of its own gateway.ingest.
	var traces map[trace.TraceID]bool
	waitFor(t, "a trace per frame", func() bool {
		ingest, handled := map[trace.SpanID]trace.TraceID{}, map[trace.TraceID]bool{}
		spans := h.spans.GetSpans()
		for _, s := range spans {
			if s.Name == "gateway.ingest agent.output" {
				ingest[s.SpanContext.SpanID()] = s.SpanContext.TraceID()
			}
		}
		for _, s := range spans {
			if s.Name == "session.handle agent.output" && ingest[s.Parent.SpanID()] == s.SpanContext.TraceID() {
				handled[s.SpanContext.TraceID()] = true
			}
		}
		traces = handled
		return len(handled) == n
	})
	if len(traces) != n {
		t.Fatalf("%d frames in %d traces", n, len(traces))
	}
}

// batchMetrics reads switchyard_gateway_ingest_batch_frames: frames
// published (its sum) and the SY_IN messages they took (its count).
func batchMetrics(t *testing.T, text string) (frames, messages float64) {
	t.Helper()
	return metricValue(t, text, "switchyard_gateway_ingest_batch_frames_sum"),
		metricValue(t, text, "switchyard_gateway_ingest_batch_frames_count")
}

// metricValue is the value of the unlabelled series name in a /metrics text.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}
