package pod

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

const hsSecret = "0123456789abcdef0123456789abcdef-test"

func hs256(t *testing.T, sub string, exp time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "org": "acme", "iat": time.Now().Add(-time.Minute).Unix()}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(hsSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jwtGateway(t *testing.T) *gateway {
	return startGateway(t, func(c *edge.Config) {
		c.HMACSecret = hsSecret
		c.Leeway = 0
		c.ClientTokens = []string{"static-token=bob"}
	})
}

// TestJWTClientSockets: /ws/client accepts an HS256 JWT (and still the
// static table), refuses an expired or badly signed one with
// error{auth_failed} and 1008, and closes a socket whose token lapses while
// it is open with 4001 "token expired" (counted by close code).
func TestJWTClientSockets(t *testing.T) {
	g := jwtGateway(t)
	ws := "ws://" + g.s.Addr() + "/ws/client?token="

	for name, tok := range map[string]string{"jwt": hs256(t, "alice", time.Now().Add(time.Hour)), "static": "static-token"} {
		c, _ := dial(t, ws+tok, nil)
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		if types, err := readUntil(t, c, "pong"); err != nil {
			t.Fatalf("%s token: frames %v then %v; want pong", name, types, err)
		}
	}
	// Bearer header too.
	c, _ := dial(t, "ws://"+g.s.Addr()+"/ws/client", http.Header{"Authorization": {"Bearer " + hs256(t, "alice", time.Time{})}})
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
	if types, err := readUntil(t, c, "pong"); err != nil {
		t.Fatalf("Bearer JWT without exp: %v then %v; want pong", types, err)
	}

	other := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "mallory", "exp": time.Now().Add(time.Hour).Unix()})
	forged, _ := other.SignedString([]byte("another-secret-another-secret-0000"))
	for name, tok := range map[string]string{"expired": hs256(t, "alice", time.Now().Add(-time.Minute)), "forged": forged, "unknown": "nope"} {
		c, _ := dial(t, ws+tok, nil)
		types, end := readUntil(t, c, "")
		if code, _ := closeCode(end); code != 1008 || len(types) != 1 || types[0] != "error" {
			t.Errorf("%s token: frames %v, end %v; want one error frame and close 1008", name, types, end)
		}
	}

	// Expiry on an open socket: close 4001 at exp, not before.
	exp := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	c, _ = dial(t, ws+hs256(t, "alice", exp), nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
	if _, err := readUntil(t, c, "pong"); err != nil {
		t.Fatalf("short-lived token refused at connect: %v", err)
	}
	_, end := readUntil(t, c, "never")
	code, text := closeCode(end)
	if code != 4001 || text != "token expired" {
		t.Fatalf("socket end %v; want close 4001 \"token expired\"", end)
	}
	if early := time.Until(exp); early > 50*time.Millisecond {
		t.Fatalf("closed %s before the token's exp", early)
	}
	waitFor(t, "closes_total{reason=token_expired,code=4001}", func() bool {
		return strings.Contains(metricsText(t, g), `switchyard_gateway_closes_total{code="4001",dialect="client",reason="token_expired"} 1`)
	})
}

// TestJWTRest: REST takes the same credentials through the same check.
func TestJWTRest(t *testing.T) {
	g := jwtGateway(t)
	base := "http://" + g.s.Addr() + "/v1/sessions"
	for name, tc := range map[string]struct {
		h    http.Header
		want int
	}{
		"jwt":     {http.Header{"Authorization": {"Bearer " + hs256(t, "alice", time.Now().Add(time.Hour))}}, 200},
		"static":  {http.Header{"Authorization": {"Bearer static-token"}}, 200},
		"expired": {http.Header{"Authorization": {"Bearer " + hs256(t, "alice", time.Now().Add(-time.Minute))}}, 401},
		"none":    {nil, 401},
	} {
		if code, body := get(t, base, tc.h); code != tc.want {
			t.Errorf("%s: GET /v1/sessions %d %s, want %d", name, code, body, tc.want)
		}
	}
	// A client JWT is not an admin token.
	if code, _ := get(t, "http://"+g.s.Addr()+"/v1/cluster", http.Header{"Authorization": {"Bearer " + hs256(t, "alice", time.Now().Add(time.Hour))}}); code != 403 {
		t.Errorf("admin call with a client JWT: %d, want 403", code)
	}
}

// TestOriginAllowList: a browser Origin must be the gateway's own or on
// SY_ALLOWED_ORIGINS; a request without Origin is not a browser's.
func TestOriginAllowList(t *testing.T) {
	g := startGateway(t, func(c *edge.Config) {
		c.ClientTokens = []string{"tok=alice"}
		c.AllowedOrigins = []string{"https://app.example.com", "https://*.corp.example"}
	})
	url := "ws://" + g.s.Addr() + "/ws/client?token=tok"
	for origin, want := range map[string]int{
		"":                            101,
		"https://app.example.com":     101,
		"https://eu.corp.example":     101,
		"http://" + g.s.Addr():        101, // same origin (the console)
		"https://evil.example":        403,
		"http://app.example.com":      403, // scheme matters
		"https://app.example.com:444": 403,
		"null":                        403,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if _, got := dial(t, url, h); got != want {
			t.Errorf("Origin %q: %d, want %d", origin, got, want)
		}
	}
	// The runtime path is under the same rule.
	if _, got := dial(t, "ws://"+g.s.Addr()+"/ws/runtime", http.Header{"Origin": {"https://evil.example"}}); got != 403 {
		t.Errorf("runtime socket from a foreign Origin: %d, want 403", got)
	}
}

// TestDevStackOrigins: the dev stack's default patterns admit pages on
// loopback at any port and nothing else.
func TestDevStackOrigins(t *testing.T) {
	g := startGateway(t, func(c *edge.Config) {
		c.ClientTokens = []string{"tok=alice"}
		c.AllowedOrigins = edge.LoopbackOrigins
	})
	url := "ws://" + g.s.Addr() + "/ws/client?token=tok"
	for origin, want := range map[string]int{
		"http://localhost:5173": 101, "http://127.0.0.1:3000": 101, "http://[::1]:8081": 101, "http://localhost": 101,
		"http://localhost.evil.example": 403, "https://example.com": 403,
	} {
		if _, got := dial(t, url, http.Header{"Origin": {origin}}); got != want {
			t.Errorf("Origin %q: %d, want %d", origin, got, want)
		}
	}
}

func metricsText(t *testing.T, g *gateway) string {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
	return b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
