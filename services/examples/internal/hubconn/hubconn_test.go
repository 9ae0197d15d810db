package hubconn

import (
	"testing"
	"time"
)

func TestBackoffGrowsCapsAndResets(t *testing.T) {
	b := Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second}
	for i, ceil := range []time.Duration{250, 500, 1000, 2000, 4000, 8000, 10000, 10000} {
		ceil *= time.Millisecond
		if d := b.Next(); d < ceil/2 || d > ceil {
			t.Errorf("attempt %d: %s, want within [%s, %s]", i, d, ceil/2, ceil)
		}
	}
	b.Reset()
	if d := b.Next(); d > 250*time.Millisecond {
		t.Errorf("after Reset: %s", d)
	}
}

func TestURLs(t *testing.T) {
	for _, tc := range []struct{ hub, path, want string }{
		{"http://127.0.0.1:8080", "/ws/client", "ws://127.0.0.1:8080/ws/client"},
		{"ws://127.0.0.1:8080/ws/runtime", "/ws/runtime", "ws://127.0.0.1:8080/ws/runtime"},
		{"ws://127.0.0.1:8080/ws/runtime", "/ws/client", "ws://127.0.0.1:8080/ws/client"},
		{"https://hub.example/sy/?x=1", "/ws/client", "wss://hub.example/sy/ws/client"},
	} {
		u, err := WebSocketURL(tc.hub, tc.path)
		if err != nil || u.String() != tc.want {
			t.Errorf("WebSocketURL(%q, %q) = %v, %v; want %s", tc.hub, tc.path, u, err, tc.want)
		}
	}
	if _, err := BaseURL("ftp://x"); err == nil {
		t.Error("ftp scheme accepted")
	}
	if got := redact("ws://h/ws/client?token=secret"); got != "ws://h/ws/client?…" {
		t.Errorf("redact = %s", got)
	}
}
