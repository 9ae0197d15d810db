package push

import (
	"net/http/httptest"
	"testing"

	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

func TestOriginAllowed(t *testing.T) {
	allowed := []string{"https://console.example/", " http://localhost:3000"}
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "hub:8080", true}, // not a browser
		{"https://console.example", "hub:8080", true},
		{"HTTPS://CONSOLE.EXAMPLE", "hub:8080", true},
		{"http://localhost:3000", "hub:8080", true},
		{"http://hub:8080", "hub:8080", true}, // same origin: the console served by the gateway
		{"https://evil.example", "hub:8080", false},
		{"https://console.example.evil", "hub:8080", false},
		{"null", "hub:8080", false},
	} {
		r := httptest.NewRequest("GET", "http://"+c.host+"/notification", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := edge.OriginMatches(r, allowed); got != c.want {
			t.Errorf("origin %q host %q: %v, want %v", c.origin, c.host, got, c.want)
		}
	}
	r := httptest.NewRequest("GET", "http://hub/notification", nil)
	r.Header.Set("Origin", "https://anything.example")
	if !edge.OriginMatches(r, []string{"*"}) {
		t.Error("* does not allow every origin")
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:5000": true, "[::1]:5000": true, "10.0.0.7:5000": false, "192.168.1.2:1": false} {
		r := httptest.NewRequest("GET", "/notification", nil)
		r.RemoteAddr = addr
		if got := loopback(r); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/notification", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if loopback(r) {
		t.Error("a proxied request counts as loopback")
	}
}
