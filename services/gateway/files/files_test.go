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
