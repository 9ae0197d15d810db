package pod

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// TestQueryTokensNeverRecorded: credentials in ?token= (a valid static
// token, an unknown one, a JWT-shaped forgery and a valid JWT) sent to every
// socket and HTTP path of the pod reach neither the JSON logs (at debug),
// nor any span (HTTP server spans included), nor /metrics.
func TestQueryTokensNeverRecorded(t *testing.T) {
	g := startGateway(t, func(c *edge.Config) {
		c.ClientTokens = []string{"SECRETSTATIC=alice"}
		c.AdminTokens = []string{"SECRETADMIN=root"}
		c.HMACSecret = hsSecret
	})
	validJWT := hs256(t, "alice", time.Now().Add(time.Hour))
	tokens := []string{"SECRETSTATIC", "SECRETUNKNOWN", "eyJSECRET.eyJSECRET.SECRETSIG", "SECRETADMIN", validJWT}
	base := "http://" + g.s.Addr()
	sockets := []string{"/ws/client", "/ws/runtime"}
	httpPaths := []string{"/sessions", "/v1/sessions", "/v1/sessions/s1", "/endpoints", "/v1/endpoints", "/v1/cluster",
		"/v1/endpoints/ep1/config", "/v1/runtimes/r1/tokens", "/files/f1", "/console/", "/nowhere", "/metrics", "/healthz", "/readyz"}
	for _, tok := range tokens {
		for _, p := range sockets {
			c, _, err := websocket.DefaultDialer.Dial("ws"+base[len("http"):]+p+"?token="+tok+"&session=x", nil)
			if err != nil {
				t.Fatalf("dial %s: %v", p, err)
			}
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"client.subscribe","payload":{"session_id":"s1"}}`))
			_, _ = readUntil(t, c, "error")
			_ = c.Close()
		}
		for _, p := range httpPaths {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
				req, _ := http.NewRequest(m, base+p+"?token="+tok+"&access_token="+tok, strings.NewReader(`{"endpoint_id":"ep1"}`))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", m, p, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	// Every socket has ended and been logged before looking.
	waitFor(t, "all sockets released", func() bool {
		return !strings.Contains(metricsText(t, g), `switchyard_gateway_connections{dialect="client"} 1`) &&
			strings.Contains(metricsText(t, g), `switchyard_gateway_connections{dialect="client"} 0`)
	})
	_, scraped := get(t, base+"/metrics", nil)
	spans := g.spans.GetSpans()
	httpSpans := 0
	for _, s := range spans {
		for _, a := range s.Attributes {
			if a.Key == "http.route" || a.Key == "url.path" {
				httpSpans++
				break
			}
		}
	}
	if httpSpans == 0 || !strings.Contains(g.logs.String(), `"level":"DEBUG"`) {
		t.Fatalf("nothing to look at: %d HTTP spans, debug logs %v", httpSpans, strings.Contains(g.logs.String(), "DEBUG"))
	}
	where := map[string]string{"logs": g.logs.String(), "spans": fmt.Sprintf("%+v", spans), "metrics": scraped + metricsText(t, g)}
	for what, text := range where {
		for _, secret := range append([]string{"SECRET"}, validJWT) {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s contain a token: …%s…", what, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
	t.Logf("%d spans (%d HTTP), %d bytes of logs, %d bytes of metrics: no token", len(spans), httpSpans, len(where["logs"]), len(where["metrics"]))
}
