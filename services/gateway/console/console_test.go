package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Host = "hub.example:8080"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w
}

func TestServesEveryFileWithItsType(t *testing.T) {
	want := map[string]string{
		"/console/":           "text/html; charset=utf-8",
		"/console/index.html": "text/html; charset=utf-8",
		"/console/app.js":     "text/javascript; charset=utf-8",
		"/console/hub.js":     "text/javascript; charset=utf-8",
		"/console/style.css":  "text/css; charset=utf-8",
	}
	for path, ctype := range want {
		w := get(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, w.Code)
		}
		h := w.Header()
		if h.Get("Content-Type") != ctype {
			t.Errorf("%s: Content-Type %q, want %q", path, h.Get("Content-Type"), ctype)
		}
		if h.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(h.Get("ETag"), `"`) {
			t.Errorf("%s: caching headers %q %q", path, h.Get("Cache-Control"), h.Get("ETag"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: security headers missing: %v", path, h)
		}
		csp := h.Get("Content-Security-Policy")
		for _, part := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
			"connect-src 'self' ws://hub.example:8080 wss://hub.example:8080", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, part)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP too open: %q", path, csp)
		}
	}
}

func TestEveryModuleImportIsEmbedded(t *testing.T) {
	root, _ := fs.Sub(static, "static")
	imp := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	files := load()
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".js") {
			return err
		}
		body, _ := fs.ReadFile(root, p)
		for _, m := range imp.FindAllStringSubmatch(string(body), -1) {
			if _, ok := files[m[1]]; !ok {
				t.Errorf("%s imports %s, which is not served", p, m[1])
			}
		}
		if strings.Contains(string(body), "innerHTML") {
			t.Errorf("%s uses innerHTML; build elements with h()", p)
		}
		return nil
	})
}

func TestRevalidationAndRefusals(t *testing.T) {
	first := get(t, http.MethodGet, "/console/app.js", nil)
	etag := first.Header().Get("ETag")
	if w := get(t, http.MethodGet, "/console/app.js", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := get(t, http.MethodHead, "/console/app.js", nil); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != first.Header().Get("Content-Length") {
		t.Fatalf("HEAD: %d, %d bytes, length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
	if w := get(t, http.MethodGet, "/console/nope.js", nil); w.Code != http.StatusNotFound {
		t.Fatalf("unknown file: %d", w.Code)
	}
	if w := get(t, http.MethodGet, "/console/../console.go", nil); w.Code != http.StatusNotFound {
		t.Fatalf("path outside static: %d", w.Code)
	}
	if w := get(t, http.MethodPost, "/console/", nil); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %q", w.Code, w.Header().Get("Allow"))
	}
	if csp := CSP("evil.example; script-src *"); strings.Contains(csp, "evil") {
		t.Fatalf("a malformed Host reached the CSP: %q", csp)
	}
}
