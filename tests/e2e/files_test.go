package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// filePart is one part of a multipart upload: a form field (filename "")
// or a file.
type filePart struct {
	field, filename, contentType string
	data                         []byte
}

func fileSessionField(sid string) filePart { return filePart{field: "session_id", data: []byte(sid)} }

// fileUpload runs POST path (multipart/form-data of parts) on gateway gw.
func (h *hub) fileUpload(gw int, path, token string, parts ...filePart) (int, map[string]any, []byte) {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name="%s"`, quote(p.field))
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename="%s"`, quote(p.filename))
		}
		hdr.Set("Content-Disposition", cd)
		if p.contentType != "" {
			hdr.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(hdr)
		if err != nil {
			h.t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", h.gateways[gw]+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.fileDo(req)
}

func (h *hub) fileDo(req *http.Request) (int, map[string]any, []byte) {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

// fileDownload runs GET path on gateway gw; header adds request headers.
func (h *hub) fileDownload(gw int, path, token string, header ...string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.gateways[gw]+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func expectFileError(t *testing.T, status int, body map[string]any, raw []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["code"] != wantCode || body["message"] == "" {
		t.Fatalf("want %d %s, got %d %s", wantStatus, wantCode, status, raw)
	}
}

func fileMetadataOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	md, ok := payload(m)["metadata"].(map[string]any)
	if !ok {
		t.Fatalf("frame without payload.metadata: %v", m)
	}
	return md
}

func fileRandomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return b
}

// filePNGBytes starts like a PNG, so it sniffs as image/png.
func filePNGBytes(n int) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), fileRandomBytes(n-8)...)
}

// TestFileUploadToRuntimeAndDownload: POST /v1/files on one gateway, the
// runtime on another gets file.upload with the document's payload and
// base64 data; the file downloads from any gateway, with Range.
func TestFileUploadToRuntimeAndDownload(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)

	// Larger than one object-store chunk (128 KiB) and than a NATS payload.
	var csv strings.Builder
	for i := 0; csv.Len() < 1<<20+12345; i++ {
		fmt.Fprintf(&csv, "%d,row %d,%x\n", i, i, i*7919)
	}
	data := []byte(csv.String())
	name := `input "q1".csv`
	st, body, raw := h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid),
		filePart{field: "file", filename: name, contentType: "text/csv", data: data})
	if st != http.StatusCreated {
		t.Fatalf("POST /v1/files: %d %s", st, raw)
	}
	fid, _ := body["file_id"].(string)
	if fid == "" || body["name"] != name || body["mime_type"] != "text/csv" || body["size"] != float64(len(data)) || body["session_id"] != sid {
		t.Fatalf("201 body: %s", raw)
	}

	up := rt.ExpectSkipping("file.upload", "runtime.status")
	p := payload(up)
	if up["session_id"] != sid || p["session_id"] != sid {
		t.Fatalf("file.upload session: %v", up["session_id"])
	}
	md := fileMetadataOf(t, up)
	if md["file_id"] != fid || md["name"] != name || md["mime_type"] != "text/csv" || md["size"] != float64(len(data)) {
		t.Fatalf("file.upload metadata: %v", md)
	}
	if p["data"] != base64.StdEncoding.EncodeToString(data) {
		t.Fatalf("file.upload data is not the base64 of the upload (%d chars)", len(fmt.Sprint(p["data"])))
	}
	if up["ts"] == nil || up["ts"] == "" {
		t.Fatalf("file.upload without ts: %v", up["ts"])
	}
	if id, _ := up["id"].(string); !strings.Contains(id, fid) {
		t.Fatalf("file.upload id %q is not derived from the file id", id)
	}

	// Download from the gateway that did not take the upload.
	resp, got := h.fileDownload(0, "/v1/files/"+fid, clientToken)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET /v1/files/%s: %d, %d bytes (want %d)", fid, resp.StatusCode, len(got), len(data))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(data)) {
		t.Fatalf("Content-Length %q", cl)
	}
	cd := resp.Header.Get("Content-Disposition")
	disp, params, err := mime.ParseMediaType(cd)
	if err != nil || disp != "attachment" || params["filename"] != name || !strings.Contains(cd, `filename="`) {
		t.Fatalf("Content-Disposition %q (%v, %v)", cd, params, err)
	}
	lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil || time.Since(lm) > time.Minute || time.Until(lm) > time.Minute {
		t.Fatalf("Last-Modified %q: %v", resp.Header.Get("Last-Modified"), err)
	}
	if resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("Accept-Ranges %q", resp.Header.Get("Accept-Ranges"))
	}

	// Conditional and HEAD requests.
	etag := resp.Header.Get("Etag")
	if etag == "" {
		t.Fatalf("no ETag")
	}
	if resp, got := h.fileDownload(1, "/v1/files/"+fid, clientToken, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || len(got) != 0 {
		t.Fatalf("If-None-Match: %d, %d bytes", resp.StatusCode, len(got))
	}
	req, _ := http.NewRequest("HEAD", h.gateways[1]+"/v1/files/"+fid, nil)
	req.Header.Set("Authorization", "Bearer "+clientToken)
	if st, _, raw := h.fileDo(req); st != http.StatusOK || len(raw) != 0 {
		t.Fatalf("HEAD: %d, %d bytes", st, len(raw))
	}

	// Range, on the unversioned path.
	resp, got = h.fileDownload(1, "/files/"+fid, clientToken, "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[1000:2000]) {
		t.Fatalf("Range: %d, %q", resp.StatusCode, got)
	}
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(data)) {
		t.Fatalf("Content-Range %q", cr)
	}
	resp, got = h.fileDownload(1, "/files/"+fid, clientToken, "Range", fmt.Sprintf("bytes=-%d", 10))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[len(data)-10:]) {
		t.Fatalf("suffix Range: %d, %q", resp.StatusCode, got)
	}
	resp, _ = h.fileDownload(1, "/files/"+fid, clientToken, "Range", fmt.Sprintf("bytes=%d-", len(data)+5))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable Range: %d", resp.StatusCode)
	}

	// Another user may not download it; unknown ids are 404.
	resp, raw = h.fileDownload(0, "/v1/files/"+fid, bobToken)
	var e map[string]any
	_ = json.Unmarshal(raw, &e)
	expectFileError(t, resp.StatusCode, e, raw, http.StatusForbidden, "forbidden")
	for _, id := range []string{"no-such-file", "bad%20id"} {
		resp, raw = h.fileDownload(1, "/v1/files/"+id, clientToken)
		e = nil
		_ = json.Unmarshal(raw, &e)
		expectFileError(t, resp.StatusCode, e, raw, http.StatusNotFound, "file_not_found")
	}
	resp, _ = h.fileDownload(1, "/v1/files/"+fid, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("download without token: %d", resp.StatusCode)
	}
}

// TestFileUploadSniffAndPartOrder: a file part before session_id is
// accepted; application/octet-stream (or no type) is sniffed.
func TestFileUploadSniffAndPartOrder(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)

	img := filePNGBytes(3000)
	st, body, raw := h.fileUpload(1, "/files", clientToken,
		filePart{field: "file", filename: "dir/chart.png", contentType: "application/octet-stream", data: img}, fileSessionField(sid))
	if st != http.StatusCreated || body["mime_type"] != "image/png" || body["name"] != "chart.png" || body["size"] != float64(len(img)) {
		t.Fatalf("POST /files: %d %s", st, raw)
	}
	up := rt.ExpectSkipping("file.upload", "runtime.status")
	if md := fileMetadataOf(t, up); md["file_id"] != body["file_id"] || md["mime_type"] != "image/png" {
		t.Fatalf("file.upload metadata: %v", md)
	}
	if payload(up)["data"] != base64.StdEncoding.EncodeToString(img) {
		t.Fatalf("file.upload data differs")
	}

	text := []byte("hello, runtime\n")
	st, body, raw = h.fileUpload(0, "/v1/files", clientToken, fileSessionField(sid), filePart{field: "file", filename: "note", data: text})
	if st != http.StatusCreated || body["mime_type"] != "text/plain; charset=utf-8" || body["size"] != float64(len(text)) {
		t.Fatalf("POST /v1/files without a part type: %d %s", st, raw)
	}
	up = rt.ExpectSkipping("file.upload", "runtime.status")
	if payload(up)["data"] != base64.StdEncoding.EncodeToString(text) {
		t.Fatalf("file.upload data: %v", payload(up)["data"])
	}
	resp, got := h.fileDownload(1, "/files/"+body["file_id"].(string), clientToken)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, text) || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("download: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
}

// TestFileAvailableToClients: a runtime's file.available reaches the
// subscribed client (on another gateway) as metadata without data, in the
// transcript; the bytes download from every gateway.
func TestFileAvailableToClients(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)
	c := h.connectClient(1, clientToken)
	subscribe(c, sid, 0)

	img := filePNGBytes(200 << 10)
	rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid,
		"metadata":   map[string]any{"file_id": "out-1", "name": "output.png", "mime_type": "image/png", "size": len(img)},
		"data":       base64.StdEncoding.EncodeToString(img),
	}})
	fa := c.ExpectSkipping("file.available", "runtime.status")
	p := payload(fa)
	if fa["session_id"] != sid || p["session_id"] != sid {
		t.Fatalf("file.available: %v", fa)
	}
	if _, has := p["data"]; has {
		t.Fatalf("clients must not get file data: %d chars", len(fmt.Sprint(p["data"])))
	}
	md := fileMetadataOf(t, fa)
	if md["file_id"] != "out-1" || md["name"] != "output.png" || md["mime_type"] != "image/png" || md["size"] != float64(len(img)) {
		t.Fatalf("file.available metadata: %v", md)
	}
	if fa["seq"] == nil {
		t.Fatalf("file.available without seq: %v", fa)
	}
	for gw := range h.gateways {
		resp, got := h.fileDownload(gw, "/v1/files/out-1", clientToken)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, img) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("gateway %d: %d %q, %d bytes", gw, resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="output.png"` {
			t.Fatalf("Content-Disposition %q", cd)
		}
	}
	resp, _ := h.fileDownload(1, "/v1/files/out-1", bobToken)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob downloads alice's file: %d", resp.StatusCode)
	}

	// The transcript keeps metadata only: a late subscriber replays it.
	late := h.connectClient(0, clientToken)
	var replayed map[string]any
	for _, m := range subscribe(late, sid, 0) {
		if m["type"] == "file.available" {
			replayed = m
		}
	}
	if replayed == nil || fileMetadataOf(t, replayed)["file_id"] != "out-1" {
		t.Fatalf("file.available not in the history: %v", replayed)
	}
	if _, has := payload(replayed)["data"]; has {
		t.Fatalf("history holds file data")
	}

	// A file id that is not a valid token, or that another session's file
	// has, is replaced by a new one; the other session's file stays.
	sid2 := h.createSession(rt, "claude-code-prod", clientToken)
	c2 := h.connectClient(1, clientToken)
	subscribe(c2, sid2, 0)
	other := []byte("another session's file")
	for _, id := range []string{"out-1", "bad id/..", ""} {
		rt.MustSend(map[string]any{"type": "file.available", "session_id": sid2, "ts": ts(), "payload": map[string]any{
			"session_id": sid2,
			"metadata":   map[string]any{"file_id": id, "name": "../../etc/result.txt", "mime_type": "text/plain", "size": len(other)},
			"data":       base64.StdEncoding.EncodeToString(other),
		}})
		md := fileMetadataOf(t, c2.ExpectSkipping("file.available", "runtime.status"))
		nid, _ := md["file_id"].(string)
		if nid == "" || nid == id || md["name"] != "result.txt" {
			t.Fatalf("file id %q: got metadata %v", id, md)
		}
		resp, got := h.fileDownload(0, "/files/"+nid, clientToken)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, other) {
			t.Fatalf("renamed file %s: %d %q", nid, resp.StatusCode, got)
		}
	}
	if _, got := h.fileDownload(0, "/files/out-1", clientToken); !bytes.Equal(got, img) {
		t.Fatalf("the first session's out-1 was overwritten")
	}
}

// TestFileErrors: every refusal of the file paths.
func TestFileErrors(t *testing.T) {
	const limit = 4096
	h := startHub(t, hubOptions{extraGateways: 1, env: map[string]string{"SY_MAX_FILE_BYTES": fmt.Sprint(limit)}})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)
	file := func(data []byte) filePart {
		return filePart{field: "file", filename: "f.bin", contentType: "application/x-test", data: data}
	}

	t.Run("runtime", func(t *testing.T) {
		send := func(md map[string]any, data any) map[string]any {
			rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(),
				"payload": map[string]any{"session_id": sid, "metadata": md, "data": data}})
			return rt.ExpectSkipping("error", "runtime.status")
		}
		if e := send(map[string]any{"file_id": "x", "name": "x", "mime_type": "text/plain", "size": 3}, "@@not base64!!"); payload(e)["code"] != "invalid_message" {
			t.Fatalf("bad base64: %v", e)
		}
		if e := send(map[string]any{"file_id": "x", "name": "x", "mime_type": "text/plain", "size": 99}, base64.StdEncoding.EncodeToString([]byte("abc"))); payload(e)["code"] != "invalid_message" {
			t.Fatalf("size mismatch: %v", e)
		}
		big := fileRandomBytes(limit + 1)
		e := send(map[string]any{"file_id": "big", "name": "big", "mime_type": "text/plain", "size": len(big)}, base64.StdEncoding.EncodeToString(big))
		if payload(e)["code"] != "file_too_large" || e["session_id"] != sid {
			t.Fatalf("oversize file.available: %v", e)
		}
		if resp, _ := h.fileDownload(0, "/files/big", clientToken); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("refused file stored: %d", resp.StatusCode)
		}
		// Exactly the limit is fine.
		ok := fileRandomBytes(limit)
		rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid,
			"metadata": map[string]any{"file_id": "edge", "name": "edge.bin", "mime_type": "application/x-test", "size": len(ok)},
			"data":     base64.StdEncoding.EncodeToString(ok)}})
		waitFor(t, "file at the limit stored", func() bool {
			resp, got := h.fileDownload(1, "/files/edge", clientToken)
			return resp.StatusCode == http.StatusOK && bytes.Equal(got, ok)
		})
	})

	t.Run("upload", func(t *testing.T) {
		st, b, raw := h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid), file(fileRandomBytes(limit+1)))
		expectFileError(t, st, b, raw, http.StatusRequestEntityTooLarge, "file_too_large")
		st, b, raw = h.fileUpload(1, "/v1/files", clientToken, file(fileRandomBytes(limit+1)), fileSessionField(sid))
		expectFileError(t, st, b, raw, http.StatusRequestEntityTooLarge, "file_too_large")
		st, b, raw = h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid), file(fileRandomBytes(limit*40)))
		expectFileError(t, st, b, raw, http.StatusRequestEntityTooLarge, "file_too_large")

		st, b, raw = h.fileUpload(1, "/v1/files", clientToken, fileSessionField("no-such-session"), file([]byte("x")))
		expectFileError(t, st, b, raw, http.StatusNotFound, "session_not_found")
		st, b, raw = h.fileUpload(0, "/v1/files", bobToken, fileSessionField(sid), file([]byte("x")))
		expectFileError(t, st, b, raw, http.StatusForbidden, "forbidden")
		st, b, raw = h.fileUpload(0, "/v1/files", bobToken, file([]byte("x")), fileSessionField(sid))
		expectFileError(t, st, b, raw, http.StatusForbidden, "forbidden")
		st, b, raw = h.fileUpload(0, "/v1/files", clientToken, file([]byte("x")))
		expectFileError(t, st, b, raw, http.StatusBadRequest, "invalid_message")
		st, b, raw = h.fileUpload(0, "/v1/files", clientToken, fileSessionField(sid))
		expectFileError(t, st, b, raw, http.StatusBadRequest, "invalid_message")
		st, b, raw = h.fileUpload(0, "/v1/files", clientToken, fileSessionField("bad id"), file([]byte("x")))
		expectFileError(t, st, b, raw, http.StatusBadRequest, "invalid_message")
		st, b, raw = h.fileUpload(0, "/v1/files", "", fileSessionField(sid), file([]byte("x")))
		expectFileError(t, st, b, raw, http.StatusUnauthorized, "auth_failed")

		req, _ := http.NewRequest("POST", h.gateways[0]+"/v1/files", strings.NewReader(`{"session_id":"`+sid+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+clientToken)
		st, b, raw = h.fileDo(req)
		expectFileError(t, st, b, raw, http.StatusBadRequest, "invalid_message")
		req, _ = http.NewRequest("POST", h.gateways[0]+"/v1/files", strings.NewReader("--x\r\nbroken"))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		req.Header.Set("Authorization", "Bearer "+clientToken)
		st, b, raw = h.fileDo(req)
		expectFileError(t, st, b, raw, http.StatusBadRequest, "invalid_message")
	})

	t.Run("closed session", func(t *testing.T) {
		c := h.connectClient(1, clientToken)
		subscribe(c, sid, 0)
		c.MustSend(map[string]any{"type": "session.close", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid}})
		c.ExpectSkipping("session.closed", "runtime.status")
		st, b, raw := h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid), file([]byte("late")))
		expectFileError(t, st, b, raw, http.StatusConflict, "session_closed")
		// Files of a closed session stay downloadable by its owner.
		if resp, _ := h.fileDownload(0, "/files/edge", clientToken); resp.StatusCode != http.StatusOK {
			t.Fatalf("file of a closed session: %d", resp.StatusCode)
		}
	})
}

// TestFileUploadFullSize: an upload of SY_MAX_FILE_BYTES (7 MiB) reaches
// the runtime when its base64 frame fits the send queue; when the queue is
// too small for that frame, the upload is refused (413) instead of
// dropping the runtime's socket.
func TestFileUploadFullSize(t *testing.T) {
	data := fileRandomBytes(7 << 20)
	t.Run("fits", func(t *testing.T) {
		h := startHub(t, hubOptions{extraGateways: 1, env: map[string]string{"SY_SEND_QUEUE_BYTES": fmt.Sprint(16 << 20)}})
		rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
		sid := h.createSession(rt, "claude-code-prod", clientToken)
		st, body, raw := h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid), filePart{field: "file", filename: "big.bin", data: data})
		if st != http.StatusCreated || body["size"] != float64(len(data)) {
			t.Fatalf("POST /v1/files: %d %s", st, raw)
		}
		up := rt.ExpectSkipping("file.upload", "runtime.status")
		if payload(up)["data"] != base64.StdEncoding.EncodeToString(data) {
			t.Fatalf("7 MiB file.upload data differs")
		}
		if resp, got := h.fileDownload(0, "/files/"+body["file_id"].(string), clientToken); resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
		}
	})
	t.Run("default queue", func(t *testing.T) {
		// A frame bigger than SY_SEND_QUEUE_BYTES is still taken by an
		// idle socket: the limit bounds the backlog, not one frame.
		h := startHub(t, hubOptions{extraGateways: 1})
		rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
		sid := h.createSession(rt, "claude-code-prod", clientToken)
		st, body, raw := h.fileUpload(1, "/v1/files", clientToken, fileSessionField(sid), filePart{field: "file", filename: "big.bin", data: data})
		if st != http.StatusCreated {
			t.Fatalf("POST /v1/files: %d %s", st, raw)
		}
		if up := rt.ExpectSkipping("file.upload", "runtime.status"); payload(up)["data"] != base64.StdEncoding.EncodeToString(data) || payload(up)["metadata"].(map[string]any)["file_id"] != body["file_id"] {
			t.Fatalf("7 MiB file.upload differs")
		}
	})
}

// TestFileIDReuseNeverReplaces (issue 9 item 5): a runtime's file.available
// that reuses a stored file id — the user's upload id, or its own earlier
// id with other bytes — never changes the stored file: it is stored under a
// new id, as a new transcript entry whose metadata is what the download
// serves. The same file sent again keeps its id and stays one entry.
func TestFileIDReuseNeverReplaces(t *testing.T) {
	h := startHub(t, hubOptions{})
	rt := h.connectRuntime(0, "prod-runtime-01", "claude-code-prod")
	sid := h.createSession(rt, "claude-code-prod", clientToken)
	c := h.connectClient(0, clientToken)
	subscribe(c, sid, 0)
	available := func(id, name string, data []byte) map[string]any {
		rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid,
			"metadata":   map[string]any{"file_id": id, "name": name, "mime_type": "text/plain", "size": len(data)},
			"data":       base64.StdEncoding.EncodeToString(data),
		}})
		return fileMetadataOf(t, c.ExpectSkipping("file.available", "runtime.status"))
	}
	served := func(id string, want []byte, md map[string]any) {
		t.Helper()
		resp, got := h.fileDownload(0, "/v1/files/"+id, clientToken)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("GET /files/%s: %d %q, want %q", id, resp.StatusCode, got, want)
		}
		if md != nil && (md["size"] != float64(len(got)) || !strings.Contains(resp.Header.Get("Content-Disposition"), fmt.Sprint(md["name"]))) {
			t.Fatalf("transcript metadata %v, served %d bytes as %q", md, len(got), resp.Header.Get("Content-Disposition"))
		}
	}

	upload := []byte("user data")
	st, body, raw := h.fileUpload(0, "/v1/files", clientToken, fileSessionField(sid),
		filePart{field: "file", filename: "mine.txt", contentType: "text/plain", data: upload})
	if st != http.StatusCreated {
		t.Fatalf("POST /v1/files: %d %s", st, raw)
	}
	uid := body["file_id"].(string)
	rt.ExpectSkipping("file.upload", "runtime.status")

	evil := []byte("runtime replacement")
	md := available(uid, "mine.txt", evil)
	if md["file_id"] == uid {
		t.Fatalf("a runtime's file took the user's upload id %s", uid)
	}
	served(uid, upload, nil)
	served(md["file_id"].(string), evil, md)

	first := available("out-1", "a.txt", []byte("123456789"))
	if first["file_id"] != "out-1" {
		t.Fatalf("first use of out-1 renamed: %v", first)
	}
	second := available("out-1", "b.txt", []byte("nineteen bytes here"))
	if second["file_id"] == "out-1" {
		t.Fatalf("a second, different file took out-1 again: %v", second)
	}
	served("out-1", []byte("123456789"), first)
	served(second["file_id"].(string), []byte("nineteen bytes here"), second)

	// The same file again is a resend: same id, and no second entry.
	rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid,
		"metadata":   map[string]any{"file_id": "out-1", "name": "a.txt", "mime_type": "text/plain", "size": 9},
		"data":       base64.StdEncoding.EncodeToString([]byte("123456789")),
	}})
	// A later file, once seen, means the resend was handled (in order).
	if md := available("out-2", "c.txt", []byte("later")); md["file_id"] != "out-2" {
		t.Fatalf("out-2: %v", md)
	}
	late := h.connectClient(0, clientToken)
	ids := map[string]int{}
	for _, m := range subscribe(late, sid, 0) {
		if m["type"] == "file.available" {
			ids[fmt.Sprint(fileMetadataOf(t, m)["file_id"])]++
		}
	}
	if ids["out-1"] != 1 || ids["out-2"] != 1 || len(ids) != 4 {
		t.Fatalf("transcript file entries %v: want out-1 and out-2 once and the two renamed files", ids)
	}
}
