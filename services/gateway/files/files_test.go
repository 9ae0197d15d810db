package files

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestContentDisposition(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"output.png", `attachment; filename="output.png"`},
		{`my "report" \ v2.csv`, `attachment; filename="my \"report\" \\ v2.csv"`},
		{"café.txt", `attachment; filename="caf_.txt"; filename*=utf-8''caf%C3%A9.txt`},
	} {
		got := contentDisposition(tc.name)
		if got != tc.want {
			t.Errorf("contentDisposition(%q) = %s, want %s", tc.name, got, tc.want)
		}
		disp, params, err := mime.ParseMediaType(got)
		if err != nil || disp != "attachment" || params["filename"] != tc.name {
			t.Errorf("%s parses as %q %v %v", got, disp, params, err)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"input.csv":              "input.csv",
		"../../etc/passwd":       "passwd",
		`C:\Users\me\doc.txt`:    "doc.txt",
		"dir/":                   "fallback",
		"..":                     "fallback",
		"":                       "fallback",
		"  a\r\nb\x00.txt ":      "ab.txt",
		"bad\xffutf8":            "badutf8",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := fileName(in, "fallback"); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileMime(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n0000")
	for _, tc := range []struct {
		declared string
		data     []byte
		want     string
	}{
		{"text/csv", []byte("a,b"), "text/csv"},
		{"Text/Plain; Charset=UTF-8", nil, "text/plain; charset=UTF-8"},
		{"", png, "image/png"},
		{"application/octet-stream", png, "image/png"},
		{"not a type", []byte("hello"), "text/plain; charset=utf-8"},
		{"text/html\r\nX-Evil: 1", []byte("hi"), "text/plain; charset=utf-8"},
		{"", nil, "text/plain; charset=utf-8"},
	} {
		if got := fileMime(tc.declared, tc.data); got != tc.want {
			t.Errorf("fileMime(%q) = %q, want %q", tc.declared, got, tc.want)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	l := &sizeLimit{r: bytes.NewReader(make([]byte, 10)), max: 10}
	if b, err := io.ReadAll(l); err != nil || len(b) != 10 || l.err != nil {
		t.Fatalf("at the limit: %d %v %v", len(b), err, l.err)
	}
	l = &sizeLimit{r: bytes.NewReader(make([]byte, 11)), max: 10}
	if _, err := io.ReadAll(l); !errors.Is(err, errFileTooLarge) || !fileTooLarge(l.err) {
		t.Fatalf("over the limit: %v %v", err, l.err)
	}
	rec := httptest.NewRecorder()
	mb := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(make([]byte, 5))), 4)
	if _, err := io.ReadAll(mb); !fileTooLarge(err) {
		t.Fatalf("MaxBytesReader error not recognised: %v", err)
	}
}

// TestRanges: a suffix range of 0 bytes is unsatisfiable (416, not 206
// with an inverted range), and every 416 names the size in Content-Range.
func TestRanges(t *testing.T) {
	data := []byte(strings.Repeat("x", 36))
	for _, tc := range []struct {
		rng          string
		status       int
		contentRange string
		body         int
	}{
		{"bytes=-0", http.StatusRequestedRangeNotSatisfiable, "bytes */36", -1},
		{"bytes=-00", http.StatusRequestedRangeNotSatisfiable, "bytes */36", -1},
		{"bytes=36-", http.StatusRequestedRangeNotSatisfiable, "bytes */36", -1},
		{"bytes=x-y", http.StatusRequestedRangeNotSatisfiable, "bytes */36", -1},
		{"bytes=-1", http.StatusPartialContent, "bytes 35-35/36", 1},
		{"bytes=-0,0-1", http.StatusPartialContent, "bytes 0-1/36", 2},
		{"bytes=0-", http.StatusPartialContent, "bytes 0-35/36", 36},
		{"", http.StatusOK, "", 36},
	} {
		r := httptest.NewRequest(http.MethodGet, "/files/x", nil)
		if tc.rng != "" {
			r.Header.Set("Range", tc.rng)
		}
		w := httptest.NewRecorder()
		serveBytes(w, r, data, time.Time{})
		if w.Code != tc.status || w.Header().Get("Content-Range") != tc.contentRange {
			t.Errorf("Range %q: %d Content-Range %q, want %d %q", tc.rng, w.Code, w.Header().Get("Content-Range"), tc.status, tc.contentRange)
		}
		if tc.body >= 0 && w.Body.Len() != tc.body {
			t.Errorf("Range %q: body of %d bytes, want %d", tc.rng, w.Body.Len(), tc.body)
		}
	}
}
