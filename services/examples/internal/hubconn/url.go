package hubconn

import (
	"fmt"
	"net/url"
	"strings"
)

// WebSocketURL turns a hub address (http, https, ws or wss; with or without
// a /ws/... path) into the ws/wss URL of path.
func WebSocketURL(hub, path string) (*url.URL, error) {
	u, err := BaseURL(hub)
	if err != nil {
		return nil, err
	}
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u, nil
}

// BaseURL turns a hub address into its http(s) base URL, dropping a
// trailing /ws/<dialect> path so one SY_HUB_URL serves every program.
func BaseURL(hub string) (*url.URL, error) {
	u, err := url.Parse(hub)
	if err != nil {
		return nil, fmt.Errorf("hub url %q: %w", hub, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("hub url %q: scheme must be http, https, ws or wss", hub)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("hub url %q has no host", hub)
	}
	if i := strings.LastIndex(u.Path, "/ws/"); i >= 0 && !strings.Contains(u.Path[i+len("/ws/"):], "/") {
		u.Path = u.Path[:i]
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// redact hides query parameters (tokens) in logged URLs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	u.RawQuery = "…"
	return u.String()
}
