package edge

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Browser origins. A browser sends Origin on every WebSocket upgrade; other
// clients (runtimes, SDKs, curl) send none and are not subject to it, since
// an Origin check protects a user's browser from a foreign page, not the hub
// from a program. The gateway's own origin (the console) is always allowed;
// any other needs a pattern of SY_ALLOWED_ORIGINS.

// checkOriginPattern checks one SY_ALLOWED_ORIGINS entry: "*", or
// scheme://host[:port] where host and port may hold * wildcards.
func checkOriginPattern(p string) error {
	if p == "*" {
		return nil
	}
	scheme, host, ok := strings.Cut(p, "://")
	switch {
	case !ok || (scheme != "http" && scheme != "https"):
		return errors.New("want *, or http(s)://host[:port] (wildcards: https://*.example.com, http://localhost:*)")
	case host == "" || strings.ContainsAny(host, "/?#@"):
		return errors.New("want an origin: scheme://host[:port], no path")
	}
	return nil
}

// glob matches s against p, where each * stands for any run of characters
// (and nothing else is special, so [::1] is literal).
func glob(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// OriginMatches reports whether an upgrade request may open a socket: no
// Origin (not a browser), the gateway's own origin, or one of the patterns
// ("*", or scheme://host[:port] with * wildcards; case-insensitive;
// spaces and a trailing slash around a pattern are ignored). A dialect with
// origins of its own (OriginChecker) matches them with it.
func OriginMatches(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, p := range patterns {
		p = strings.TrimSuffix(strings.TrimSpace(p), "/")
		if p == "*" {
			return true
		}
		if glob(strings.ToLower(p), o) {
			return true
		}
	}
	return false
}

// LoopbackOrigins are the browser origins of pages served from this
// machine (any port): the dev stack allows them by default.
var LoopbackOrigins = []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*",
	"http://localhost", "http://127.0.0.1", "http://[::1]"}

// checkOrigin is the upgrader's Origin check (SY_ALLOWED_ORIGINS).
func (s *Server) checkOrigin(r *http.Request) bool {
	if OriginMatches(r, s.cfg.AllowedOrigins) {
		return true
	}
	s.log.Info("socket refused: browser Origin not in SY_ALLOWED_ORIGINS", "origin", r.Header.Get("Origin"), "path", r.URL.Path)
	return false
}

// OriginChecker is a Dialect with an Origin rule of its own (the push
// channels' SY_PUSH_ALLOWED_ORIGINS, on top of SY_ALLOWED_ORIGINS): the core
// asks it instead of applying SY_ALLOWED_ORIGINS alone.
type OriginChecker interface {
	OriginAllowed(r *http.Request) bool
}

// OriginAllowed reports whether SY_ALLOWED_ORIGINS admits r's Origin (no
// Origin, or the gateway's own, always).
func (s *Server) OriginAllowed(r *http.Request) bool { return OriginMatches(r, s.cfg.AllowedOrigins) }

func (s *Server) originCheck(d Dialect) func(*http.Request) bool {
	if oc, ok := d.(OriginChecker); ok {
		return oc.OriginAllowed
	}
	return s.checkOrigin
}
