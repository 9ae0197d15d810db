package cluster

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// TestOTLPTraceAcrossProcesses: every service process exports its spans
// over real OTLP/HTTP (protobuf) to a receiver in the test, and the spans
// of one message, taken from the processes it crossed, form one trace:
// a user.message from a client on gw-2 to a runtime on gw-1 through the
// session and relay services, and each agent.output from the runtime on
// gw-1, which appends it to the transcript itself once the session service
// has confirmed the runtime (SY_DIRECT_APPEND), to the subscriber's gateway
// gw-2.
func TestOTLPTraceAcrossProcesses(t *testing.T) {
	rcv := newOTLPReceiver(t)
	c := startCluster(t, clusterOptions{gateways: 2, sessions: 1, relays: 1, env: []string{
		"SY_OTLP_ENDPOINT=" + rcv.url,
		"OTEL_BSP_SCHEDULE_DELAY=100", // ms; the SDK's batcher exports every 5 s by default
	}})
	rt := c.connectRuntime(0, "r1", "ep1")
	sid := c.createSession(0, rt, "ep1")
	// Output until gw-1 appends one itself: from then on the session's
	// output goes direct (the runtime sends nothing else for it). These
	// frames have no gateway.fanout (nobody follows the session yet).
	warm := 0
	waitFor(t, "gw-1 appending output itself", func() bool {
		warm++
		rt.MustSend(output(sid, 1000+warm))
		return c.metric(c.gateways[0], "switchyard_gateway_direct_appends_total") >= 1
	})
	f := newFollower()
	cl := c.subscribed(1, sid, 0, f)
	start := f.last

	cl.MustSend(map[string]any{"type": "user.message", "payload": map[string]any{"session_id": sid, "message_id": "traced", "content": "hi"}})
	if um := rt.Expect("user.message"); payload(um)["message_id"] != "traced" {
		t.Fatalf("runtime got %v", um)
	}
	for i := 1; i <= 2; i++ {
		rt.MustSend(output(sid, i))
	}
	// The client sees its own message and both outputs, with their seqs.
	seqOf := map[string][]int64{}
	deadline := time.After(waitLimit)
	for len(seqOf["agent.output"]) < 2 {
		select {
		case m, ok := <-cl.Frames:
			if !ok {
				t.Fatalf("client socket closed")
			}
			if m["type"] == "error" {
				t.Fatalf("error frame: %v", m)
			}
			f.take(m)
			if s, ok := m["seq"].(float64); ok {
				seqOf[m["type"].(string)] = append(seqOf[m["type"].(string)], int64(s))
			}
		case <-deadline:
			t.Fatalf("client saw %v, want a user.message and two agent.output", seqOf)
		}
	}
	f.exact(t, "client", start+3)
	if len(seqOf["user.message"]) != 1 {
		t.Fatalf("client saw user.message seqs %v, want one", seqOf["user.message"])
	}

	userChain := []hop{
		{"gateway.ingest user.message", "switchyard-gateway", "gw-2"},
		{"session.handle user.message", "switchyard-session", "session-1"},
		{"relay.route user.message", "switchyard-relay", "relay-1"},
		{"gateway.deliver user.message", "switchyard-gateway", "gw-1"},
	}
	userFanout := []hop{
		{"session.handle user.message", "switchyard-session", "session-1"},
		{"gateway.fanout user.message", "switchyard-gateway", "gw-2"},
	}
	outChain := []hop{
		{"gateway.ingest agent.output", "switchyard-gateway", "gw-1"},
		{"gateway.fanout agent.output", "switchyard-gateway", "gw-2"},
	}

	// Wait (on each export the receiver gets) until the traces are whole.
	var um []otlpSpan
	var outs [][]otlpSpan
	var why string
	waitStart := time.Now()
	rcv.waitUntil(t, 10*time.Second, func(spans []otlpSpan) bool {
		um, outs, why = nil, nil, ""
		roots := byName(spans, "gateway.ingest user.message")
		if len(roots) != 1 {
			why = fmt.Sprintf("%d %q spans", len(roots), "gateway.ingest user.message")
			return false
		}
		um = inTrace(spans, roots[0].traceID)
		if _, err := chain(um, userChain); err != nil {
			why = err.Error()
			return false
		}
		if _, err := chain(um, userFanout); err != nil {
			why = err.Error()
			return false
		}
		var oroots []otlpSpan // the two traced outputs (the warm-up ones have no fan-out)
		for _, r := range byName(spans, "gateway.ingest agent.output") {
			if len(byName(inTrace(spans, r.traceID), "gateway.fanout agent.output")) > 0 {
				oroots = append(oroots, r)
			}
		}
		if len(oroots) != 2 {
			why = fmt.Sprintf("%d %q spans, want 2", len(oroots), "gateway.ingest agent.output")
			return false
		}
		for _, r := range oroots {
			tr := inTrace(spans, r.traceID)
			if _, err := chain(tr, outChain); err != nil {
				why = err.Error()
				return false
			}
			outs = append(outs, tr)
		}
		return true
	}, func() string { return why })
	t.Logf("all spans arrived %s after the last frame", time.Since(waitStart).Round(time.Millisecond))

	// The user.message trace: the client's gateway → session → relay →
	// the runtime's gateway, and session → the client's gateway fan-out.
	if s := byName(um, "gateway.ingest user.message")[0]; s.parentID != "" || s.attrs["sy.session_id"] != sid {
		t.Fatalf("user.message root: parent %q, session %q (want root of session %s)", s.parentID, s.attrs["sy.session_id"], sid)
	}
	fan, _ := chain(um, userFanout)
	if got, want := fan[1].attrs["sy.seq"], fmt.Sprint(seqOf["user.message"][0]); got != want {
		t.Fatalf("gateway.fanout user.message has sy.seq %s, the client saw seq %s", got, want)
	}
	// Each agent.output: the runtime's gateway → the client's gateway;
	// their fan-out seqs are the two the client received.
	var fanSeqs []string
	for _, tr := range outs {
		hops, _ := chain(tr, outChain)
		if hops[0].parentID != "" || hops[0].traceID == um[0].traceID {
			t.Fatalf("agent.output ingest should start a trace of its own: %+v", hops[0])
		}
		fanSeqs = append(fanSeqs, hops[1].attrs["sy.seq"])
	}
	sort.Strings(fanSeqs)
	want := []string{fmt.Sprint(seqOf["agent.output"][0]), fmt.Sprint(seqOf["agent.output"][1])}
	sort.Strings(want)
	if strings.Join(fanSeqs, ",") != strings.Join(want, ",") {
		t.Fatalf("agent.output fan-out spans have seqs %v, the client saw %v", fanSeqs, want)
	}

	// Every process exported on its own.
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, who := range []string{"switchyard-gateway/gw-1", "switchyard-gateway/gw-2", "switchyard-session/session-1", "switchyard-relay/relay-1"} {
		if rcv.requests[who] == 0 {
			t.Fatalf("no export request from %s (got %v)", who, rcv.requests)
		}
	}
	t.Logf("export requests per process %v, content encodings %v, user agent %q", rcv.requests, rcv.encodings, rcv.userAgent)
}

// otlpSpan is one received span with its process's resource.
type otlpSpan struct {
	name, traceID, spanID, parentID string
	service, instance               string
	attrs                           map[string]string
}

func (s otlpSpan) String() string {
	return fmt.Sprintf("%s [%s/%s] trace=%s span=%s parent=%s", s.name, s.service, s.instance, s.traceID[:8], s.spanID, s.parentID)
}

// otlpReceiver is an OTLP/HTTP trace receiver: POST /v1/traces with a
// protobuf ExportTraceServiceRequest body.
type otlpReceiver struct {
	url       string
	mu        sync.Mutex
	spans     []otlpSpan
	requests  map[string]int // service/instance → export requests
	encodings map[string]int // Content-Encoding → requests
	userAgent string
	errs      []string
	changed   chan struct{}
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{requests: map[string]int{}, encodings: map[string]int{}, changed: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(r.serve)) // 127.0.0.1:<free port>
	r.url = srv.URL
	t.Cleanup(srv.Close)
	return r
}

func (r *otlpReceiver) fail(w http.ResponseWriter, code int, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.errs = append(r.errs, msg)
	r.mu.Unlock()
	http.Error(w, msg, code)
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		r.fail(w, http.StatusNotFound, "unexpected %s %s", req.Method, req.URL.Path)
		return
	}
	if ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); ct != "application/x-protobuf" {
		r.fail(w, http.StatusUnsupportedMediaType, "unexpected Content-Type %q", req.Header.Get("Content-Type"))
		return
	}
	var body io.Reader = req.Body
	enc := req.Header.Get("Content-Encoding")
	switch enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			r.fail(w, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		defer gz.Close()
		body = gz
	default:
		r.fail(w, http.StatusUnsupportedMediaType, "unexpected Content-Encoding %q", enc)
		return
	}
	data, err := io.ReadAll(body)
	if err != nil {
		r.fail(w, http.StatusBadRequest, "read: %v", err)
		return
	}
	var ex coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &ex); err != nil {
		r.fail(w, http.StatusBadRequest, "decode ExportTraceServiceRequest: %v", err)
		return
	}
	var got []otlpSpan
	who := map[string]bool{}
	for _, rs := range ex.GetResourceSpans() {
		res := kvs(rs.GetResource().GetAttributes())
		who[res["service.name"]+"/"+res["service.instance.id"]] = true
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := otlpSpan{name: s.GetName(), traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					service: res["service.name"], instance: res["service.instance.id"], attrs: kvs(s.GetAttributes())}
				if len(s.GetParentSpanId()) > 0 {
					sp.parentID = hex.EncodeToString(s.GetParentSpanId())
				}
				got = append(got, sp)
			}
		}
	}
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)

	r.mu.Lock()
	r.spans = append(r.spans, got...)
	for k := range who {
		r.requests[k]++
	}
	r.encodings[enc]++
	r.userAgent = req.Header.Get("User-Agent")
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func kvs(attrs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, kv := range attrs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(x.IntValue)
		default:
			m[kv.GetKey()] = fmt.Sprint(v)
		}
	}
	return m
}

// waitUntil re-checks cond on every export until it holds or limit passes.
func (r *otlpReceiver) waitUntil(t *testing.T, limit time.Duration, cond func([]otlpSpan) bool, why func() string) {
	t.Helper()
	deadline := time.After(limit)
	for {
		r.mu.Lock()
		spans := append([]otlpSpan(nil), r.spans...)
		errs := append([]string(nil), r.errs...)
		r.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("receiver refused exports: %v", errs)
		}
		if cond(spans) {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			var lines []string
			for _, s := range spans {
				lines = append(lines, s.String())
			}
			t.Fatalf("traces incomplete after %s: %s\nreceived %d spans:\n%s", limit, why(), len(spans), strings.Join(lines, "\n"))
		}
	}
}

type hop struct{ name, service, instance string }

func byName(spans []otlpSpan, name string) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func inTrace(spans []otlpSpan, traceID string) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if s.traceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// chain finds, in one trace's spans, each hop as a child (by span id) of
// the previous hop, exported by the right service and instance.
func chain(spans []otlpSpan, hops []hop) ([]otlpSpan, error) {
	var out []otlpSpan
	for i, h := range hops {
		var found []otlpSpan
		for _, s := range spans {
			if s.name == h.name && (i == 0 || s.parentID == out[i-1].spanID) {
				found = append(found, s)
			}
		}
		switch {
		case len(found) == 0 && i == 0:
			return nil, fmt.Errorf("no %q span in the trace", h.name)
		case len(found) == 0:
			return nil, fmt.Errorf("no %q span under %q (span %s) in trace %s", h.name, out[i-1].name, out[i-1].spanID, out[0].traceID)
		case len(found) > 1:
			return nil, fmt.Errorf("%d %q spans under %q: %v", len(found), h.name, hopName(out), found)
		}
		s := found[0]
		if s.service != h.service || s.instance != h.instance {
			return nil, fmt.Errorf("%q exported by %s/%s, want %s/%s", h.name, s.service, s.instance, h.service, h.instance)
		}
		if i > 0 && s.traceID != out[0].traceID {
			return nil, fmt.Errorf("%q in trace %s, its parent in %s", h.name, s.traceID, out[0].traceID)
		}
		out = append(out, s)
	}
	return out, nil
}

func hopName(out []otlpSpan) string {
	if len(out) == 0 {
		return "(root)"
	}
	return out[len(out)-1].name
}
