package uploads

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/upload"
)

// completeUpload uploads files and completes, returning the result.
func completeUpload(t *testing.T, c *upload.Client, files map[string][]byte, order []string) *upload.Completed {
	t.Helper()
	init, err := c.Init(ctxT(t), exampleInit(files, order))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range order {
		putAll(t, c, init.UploadID, p, files[p], mib, true)
	}
	done, err := c.Complete(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func get(t *testing.T, url string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

func TestDownloadHandlerRangeAndToken(t *testing.T) {
	_, s, c := setup(t)
	mux := http.NewServeMux()
	device := ""
	mux.Handle(upload.DownloadPattern, c.DownloadHandler(func(*http.Request) string { return device }))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	files := map[string][]byte{"Celeste.exe": testData(3*mib+99, 10), "data/sub dir/game.pak": testData(1000, 11)}
	order := []string{"Celeste.exe", "data/sub dir/game.pak"}
	done := completeUpload(t, c, files, order)
	id, tok := done.UploadID, done.DownloadToken
	for _, p := range order {
		code, body, h := get(t, upload.DownloadURL(srv.URL, id, p, tok), nil)
		if code != 200 || !bytes.Equal(body, files[p]) || h.Get("X-Checksum-Sha256") != sha(files[p]) {
			t.Fatalf("GET %s: %d, %d bytes, sha header %q", p, code, len(body), h.Get("X-Checksum-Sha256"))
		}
	}
	exe := files["Celeste.exe"]
	url := upload.DownloadURL(srv.URL, id, "Celeste.exe", tok)
	for _, r := range []struct{ from, to int }{{0, 0}, {100, 199}, {mib - 10, mib + 10}, {2*mib - 1, 3*mib + 98}, {3 * mib, 3*mib + 98}} {
		code, body, h := get(t, url, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", r.from, r.to)})
		if code != http.StatusPartialContent || !bytes.Equal(body, exe[r.from:r.to+1]) {
			t.Fatalf("range %d-%d: %d, %d bytes (%s)", r.from, r.to, code, len(body), h.Get("Content-Range"))
		}
	}
	if code, body, _ := get(t, url, map[string]string{"Range": "bytes=-50"}); code != 206 || !bytes.Equal(body, exe[len(exe)-50:]) {
		t.Fatalf("suffix range: %d, %d bytes", code, len(body))
	}
	if code, _, _ := get(t, url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(exe)+5)}); code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d, want 416", code)
	}
	// The bearer header works as well as the query.
	if code, _, _ := get(t, upload.DownloadURL(srv.URL, id, "Celeste.exe", ""), map[string]string{"Authorization": "Bearer " + tok}); code != 200 {
		t.Fatalf("bearer token: %d", code)
	}

	// Token scope: none, unknown, another upload's, another device, expired.
	other := completeUpload(t, c, map[string][]byte{"o": {1, 2, 3}}, []string{"o"})
	for name, u := range map[string]string{
		"no token":            upload.DownloadURL(srv.URL, id, "Celeste.exe", ""),
		"unknown token":       upload.DownloadURL(srv.URL, id, "Celeste.exe", "bm9wZQ"),
		"other upload's":      upload.DownloadURL(srv.URL, id, "Celeste.exe", other.DownloadToken),
		"token for other id":  upload.DownloadURL(srv.URL, other.UploadID, "Celeste.exe", tok),
		"unknown upload id":   upload.DownloadURL(srv.URL, "nope", "Celeste.exe", tok),
		"unknown file path":   upload.DownloadURL(srv.URL, id, "missing.bin", tok),
		"path outside upload": srv.URL + "/v1/uploads/" + id + "/files/../../etc/passwd?token=" + tok,
	} {
		code, _, _ := get(t, u, nil)
		want := http.StatusForbidden
		if name == "unknown file path" || name == "unknown upload id" || name == "path outside upload" {
			want = http.StatusNotFound
		}
		if code != want {
			t.Errorf("%s: %d, want %d", name, code, want)
		}
	}
	device = "deck-2"
	if code, _, _ := get(t, url, nil); code != http.StatusForbidden {
		t.Fatalf("another device: %d, want 403", code)
	}
	device = "deck-1"
	if code, _, _ := get(t, url, nil); code != 200 {
		t.Fatalf("the upload's device: %d, want 200", code)
	}
	s.skew.Store(int64(-2 * s.cfg.TokenTTL))
	old, err := c.Complete(ctxT(t), id, "alice")
	if err != nil {
		t.Fatal(err)
	}
	s.skew.Store(0)
	if code, _, _ := get(t, upload.DownloadURL(srv.URL, id, "Celeste.exe", old.DownloadToken), nil); code != http.StatusForbidden {
		t.Fatalf("expired token: %d, want 403", code)
	}
	// Cancel removes the files and the grants.
	if err := c.Cancel(ctxT(t), id, "alice"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, url, nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Fatalf("after cancel: %d, want 403 or 404", code)
	}
}

// Open streams without holding the file: the reader never keeps more than
// a few chunks.
func TestReaderSeeks(t *testing.T) {
	_, _, c := setup(t)
	data := testData(4*mib+1, 12)
	done := completeUpload(t, c, map[string][]byte{"f": data}, []string{"f"})
	fi, err := c.Stat(ctxT(t), done.Files[0].FileID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Open(ctxT(t), fi)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, off := range []int64{3 * mib, 17, 4 * mib, mib - 1} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := io.ReadFull(r, buf)
		want := data[off:min(off+100, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) || (err != nil && err != io.ErrUnexpectedEOF) {
			t.Fatalf("read at %d: %d bytes, %v", off, n, err)
		}
	}
}
