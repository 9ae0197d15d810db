package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

// TestRuntimeOutputStoredOnce: once the session service has confirmed that
// a runtime socket is a session's runtime, the socket's gateway appends the
// session's agent.output to the transcript itself (SY_DIRECT_APPEND). The
// order the runtime sent in holds across the two paths: a burst of output,
// a permission.request (session service), more output and turn.completed
// (session service), all in one write, reach a client on another gateway
// in exactly that order with consecutive seqs, and a replay returns the same.
func TestRuntimeOutputStoredOnce(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.hello(wspeer.DialCorked(t, h.ws(0, "/ws/runtime"), waitLimit), "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)

	output := func(i int) map[string]any { return outputFrame(sid, i) }
	sent := h.untilDirect(rt, c, sid)

	const n = 100
	var burst []any
	var want []string // the client's expected (type, content or request id) sequence
	for i := range n {
		burst = append(burst, output(sent+1+i))
		want = append(want, "agent.output out-"+strconv.Itoa(sent+1+i))
	}
	burst = append(burst, permissionRequest(sid, "req-1", "Bash"))
	want = append(want, "permission.request req-1")
	for i := n; i < 2*n; i++ {
		burst = append(burst, output(sent+1+i))
		want = append(want, "agent.output out-"+strconv.Itoa(sent+1+i))
	}
	burst = append(burst, map[string]any{"type": "turn.completed", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "exit_code": 0}})
	want = append(want, "turn.completed")
	before := directAppends(t, h.metrics(0))
	if err := rt.Burst(burst...); err != nil {
		t.Fatal(err)
	}

	var lastSeq float64
	got := make([]map[string]any, 0, len(want))
	for i, w := range want {
		typ, _, _ := strings.Cut(w, " ")
		env := c.Expect(typ)
		if g := describe(env); g != w {
			t.Fatalf("frame %d: got %q, want %q (out of order, lost or duplicated)", i, g, w)
		}
		seq, _ := env["seq"].(float64)
		if lastSeq != 0 && seq != lastSeq+1 {
			t.Fatalf("frame %d (%s): seq %v after %v", i, w, seq, lastSeq)
		}
		lastSeq = seq
		got = append(got, env)
	}
	direct := directAppends(t, h.metrics(0)) - before
	t.Logf("%d of %d output frames of the burst appended by the runtime's gateway", int(direct), 2*n)
	if direct == 0 {
		t.Fatal("no output frame of the burst was appended by the runtime's gateway")
	}

	// A replay holds the same frames with the same seqs.
	replay := subscribe(h.connectClient(1, clientToken), sid, int(got[0]["seq"].(float64))-1)
	if len(replay) != len(got) {
		t.Fatalf("replay after seq %v: %d messages, want %d", got[0]["seq"], len(replay), len(got))
	}
	for i, m := range replay {
		if describe(m) != describe(got[i]) || m["seq"] != got[i]["seq"] {
			t.Fatalf("replay %d: %q seq %v, live %q seq %v", i, describe(m), m["seq"], describe(got[i]), got[i]["seq"])
		}
	}
}

// TestDirectAppendNeedsTheSessionsRuntime: a runtime socket that is not the
// session's runtime never appends to it; its output is refused (forbidden)
// and not stored, however long it keeps sending.
func TestDirectAppendNeedsTheSessionsRuntime(t *testing.T) {
	h := startHub(t, hubOptions{})
	owner := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(owner, "ep1", clientToken)
	other := h.connectRuntime(0, "r2", "ep2")
	for i := range 3 {
		other.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "seq": i + 1, "channel": "stdout", "content": "intruder", "final": false}})
		if e := other.Expect("error"); payload(e)["code"] != "forbidden" {
			t.Fatalf("frame %d of another runtime: %v, want error forbidden", i, e)
		}
	}
	if n := directAppends(t, h.metrics(0)); n != 0 {
		t.Fatalf("%v frames appended directly, want 0", n)
	}
	for _, m := range subscribe(h.connectClient(0, clientToken), sid, 0) {
		if m["type"] == "agent.output" {
			t.Fatalf("another runtime's output was stored: %v", m)
		}
	}
}

// TestDirectAppendsKeepTheSeqFloor: output the runtime's gateway appended
// itself raises the session's seq floor (its record's last_seq), with no
// turn ending behind it. So when retention has removed every entry of the
// session, its next frame continues after the last seq clients saw instead
// of going back to the session service's last append.
func TestDirectAppendsKeepTheSeqFloor(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)
	sent := h.untilDirect(rt, c, sid)
	const n = 20
	var last float64
	for i := sent + 1; i <= sent+n; i++ {
		rt.MustSend(outputFrame(sid, i))
		last, _ = c.Expect("agent.output")["seq"].(float64)
	}
	b := testenv.Bus(t, h.st.NATSURL, "test-trim")
	awaitLastSeq(t, b, sid, int64(last))

	// Retention removes every entry of the session.
	stream, err := b.JS.Stream(t.Context(), bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(t.Context(), jetstream.WithPurgeSubject(bus.TranscriptSubject(sid))); err != nil {
		t.Fatal(err)
	}
	rt.MustSend(outputFrame(sid, sent+n+1))
	env := c.Expect("agent.output")
	if seq, _ := env["seq"].(float64); seq != last+1 {
		t.Fatalf("first frame after the trim: seq %v, want %v (the seq went back)", seq, last+1)
	}
}

// awaitLastSeq watches the session's record until its last_seq (the seq
// floor) reaches seq.
func awaitLastSeq(t *testing.T, b *bus.Bus, sid string, seq int64) {
	t.Helper()
	kv, err := b.KV(t.Context(), bus.BucketSessions())
	if err != nil {
		t.Fatal(err)
	}
	watch, err := kv.Watch(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Stop() }()
	timeout := time.After(waitLimit)
	for {
		select {
		case u := <-watch.Updates():
			if u == nil { // the current value has been sent
				continue
			}
			info := &syv1.SessionInfo{}
			if err := proto.Unmarshal(u.Value(), info); err != nil {
				t.Fatal(err)
			}
			if info.GetLastSeq() >= seq {
				return
			}
		case <-timeout:
			t.Fatalf("the record of %s never reached last_seq %d", sid, seq)
		}
	}
}

func outputFrame(sid string, i int) map[string]any {
	return map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "seq": i, "channel": "stdout", "content": "out-" + strconv.Itoa(i), "final": false}}
}

// untilDirect sends rt's output for sid one frame at a time, each
// received by the subscribed client c, until gateway 0 has appended one
// itself (the session service's receipt has come; rt sends nothing else
// for sid after it, so the session's output goes direct from then on).
// It returns how many frames it sent (contents out-1 … out-n).
func (h *hub) untilDirect(rt, c *peer, sid string) int {
	h.t.Helper()
	sent := 0
	waitFor(h.t, "a direct append", func() bool {
		sent++
		rt.MustSend(outputFrame(sid, sent))
		if got := payload(c.Expect("agent.output"))["content"]; got != "out-"+strconv.Itoa(sent) {
			h.t.Fatalf("got %v, want out-%d", got, sent)
		}
		return directAppends(h.t, h.metrics(0)) > 0
	})
	return sent
}

// describe names a client frame: its type and its content or request id.
func describe(env map[string]any) string {
	p := payload(env)
	typ, _ := env["type"].(string)
	switch typ {
	case "agent.output":
		return typ + " " + p["content"].(string)
	case "permission.request":
		return typ + " " + p["request_id"].(string)
	}
	return typ
}

// directAppends reads switchyard_gateway_direct_appends_total.
func directAppends(t *testing.T, text string) float64 {
	t.Helper()
	return metricValue(t, text, "switchyard_gateway_direct_appends_total")
}
