package e2e

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceFollowsMessages: one trace covers a user.message from the
// client's gateway through session and relay to the runtime's gateway, and
// one covers each agent.output from the runtime's gateway, which appends it
// to the transcript itself once the session service confirmed the runtime
// (direct_test.go), to a subscriber's gateway. (The path through the
// session service is traced in TestRuntimeBurstIsBatched.)
func TestTraceFollowsMessages(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r1", "ep1")
	sid := h.createSession(rt, "ep1", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)

	c.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "traced", "content": "hi"}})
	rt.Expect("user.message")
	c.Expect("user.message")
	um := traceOf(t, h.spans, "gateway.ingest user.message", "session.handle user.message", "relay.route user.message", "gateway.deliver user.message", "gateway.fanout user.message")
	assertChain(t, um, []hop{
		{"gateway.ingest user.message", "switchyard-gateway", "gw-2"},
		{"session.handle user.message", "switchyard-session", ""},
		{"relay.route user.message", "switchyard-relay", ""},
		{"gateway.deliver user.message", "switchyard-gateway", "dev-gateway"},
	})
	assertChain(t, um, []hop{
		{"session.handle user.message", "switchyard-session", ""},
		{"gateway.fanout user.message", "switchyard-gateway", "gw-2"},
	})

	h.untilDirect(rt, c, sid)
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{"session_id": sid, "seq": 1, "channel": "stdout", "content": "x", "final": true}})
	c.Expect("agent.output")
	out := traceOf(t, h.spans, "gateway.ingest agent.output", "gateway.fanout agent.output")
	assertChain(t, out, []hop{
		{"gateway.ingest agent.output", "switchyard-gateway", "dev-gateway"},
		{"gateway.fanout agent.output", "switchyard-gateway", "gw-2"},
	})
}

type hop struct{ name, service, pod string }

// traceOf waits until the trace rooted at a span named root holds spans
// with every wanted name, and returns its spans.
func traceOf(t *testing.T, exp *tracetest.InMemoryExporter, root string, want ...string) []tracetest.SpanStub {
	t.Helper()
	var spans []tracetest.SpanStub
	waitFor(t, "spans of "+root, func() bool {
		var id trace.TraceID
		all := exp.GetSpans()
		for _, s := range all {
			if s.Name == root {
				id = s.SpanContext.TraceID()
			}
		}
		spans = spans[:0]
		have := map[string]bool{}
		for _, s := range all {
			if id.IsValid() && s.SpanContext.TraceID() == id {
				spans = append(spans, s)
				have[s.Name] = true
			}
		}
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
		return true
	})
	return spans
}

// assertChain checks that each hop's span is a child of the previous one,
// emitted by the right service (and pod, where given).
func assertChain(t *testing.T, spans []tracetest.SpanStub, chain []hop) {
	t.Helper()
	var parent *tracetest.SpanStub
	for _, want := range chain {
		var found *tracetest.SpanStub
		for i := range spans {
			s := &spans[i]
			if s.Name != want.name || (parent != nil && s.Parent.SpanID() != parent.SpanContext.SpanID()) {
				continue
			}
			found = s
		}
		if found == nil {
			t.Fatalf("no span %q under %v in trace: %v", want.name, nameOf(parent), names(spans))
		}
		attrs := map[string]string{}
		for _, kv := range found.Resource.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs["service.name"] != want.service || (want.pod != "" && attrs["service.instance.id"] != want.pod) {
			t.Fatalf("span %q from %v, want service %s pod %s", want.name, attrs, want.service, want.pod)
		}
		parent = found
	}
}

func nameOf(s *tracetest.SpanStub) string {
	if s == nil {
		return "(root)"
	}
	return s.Name
}

func names(spans []tracetest.SpanStub) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
