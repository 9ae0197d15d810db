package pod

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func spanNamed(exp *tracetest.InMemoryExporter, name string) *tracetest.SpanStub {
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			return &s
		}
	}
	return nil
}

// TestSpansFollowSemanticConventions: a frame's ingest span is a NATS
// messaging span (system, destination, operation type), REST calls get an
// HTTP server span named by route, and every span carries service.version.
func TestSpansFollowSemanticConventions(t *testing.T) {
	g := startGateway(t, func(c *edge.Config) { c.ClientTokens = []string{"tok=alice"} })
	c, _ := dial(t, "ws://"+g.s.Addr()+"/ws/client?token=tok", nil)
	msg := `{"type":"user.message","payload":{"session_id":"s1","message_id":"m1","content":"hi"}}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	get(t, "http://"+g.s.Addr()+"/v1/sessions/s1?token=tok", nil)
	var ingest, rest *tracetest.SpanStub
	waitFor(t, "ingest and REST spans", func() bool {
		ingest, rest = spanNamed(g.spans, "gateway.ingest user.message"), spanNamed(g.spans, "GET /v1/sessions/{id}")
		return ingest != nil && rest != nil
	})
	a := attrs(ingest.Attributes)
	want := map[string]string{"messaging.system": "nats", "messaging.destination.name": bus.InboundSubject(g.cfg.Partitions, "s1"),
		"messaging.operation.type": "send", "messaging.operation.name": "publish"}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("ingest span %s = %q, want %q (all: %v)", k, a[k], v, a)
		}
	}
	ra := attrs(rest.Attributes)
	if ra["http.route"] != "/v1/sessions/{id}" || ra["http.request.method"] != http.MethodGet || ra["http.response.status_code"] != "404" {
		t.Errorf("REST span attributes %v", ra)
	}
	if v := attrs(rest.Resource.Attributes())["service.version"]; v != buildinfo.Get().Version {
		t.Errorf("service.version %q, want %q", v, buildinfo.Get().Version)
	}
}
