package upload

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// DownloadPattern is the ServeMux pattern of DownloadHandler.
const DownloadPattern = "GET /v1/uploads/{id}/files/{path...}"

// DownloadURL is where a device fetches a file of a completed upload:
// base (e.g. "http://hub:8080") + "/v1/uploads/<id>/files/<path>?token=…".
func DownloadURL(base, uploadID, filePath, token string) string {
	segs := strings.Split(filePath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimSuffix(base, "/") + "/v1/uploads/" + url.PathEscape(uploadID) + "/files/" +
		strings.Join(segs, "/") + "?token=" + url.QueryEscape(token)
}

// DownloadHandler serves DownloadPattern to the device of an upload:
// the token (query "token" or "Authorization: Bearer") must be a grant of
// that upload, unexpired; when deviceOf is set and names a device for the
// request, it must be the grant's device. Range requests are served.
// Each response is a Download transfer (progress events) and the file is
// Downloading while it is sent.
func (c *Client) DownloadHandler(deviceOf func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uploadID, filePath, ok := splitDownloadPath(r)
		if !ok {
			writeHTTPError(w, Errorf(ReasonUnknownFile, "want /v1/uploads/{id}/files/{path}"))
			return
		}
		token := r.URL.Query().Get("token")
		if h := r.Header.Get("Authorization"); token == "" && strings.HasPrefix(h, "Bearer ") {
			token = strings.TrimPrefix(h, "Bearer ")
		}
		g, err := c.CheckToken(r.Context(), uploadID, token)
		if err != nil {
			writeHTTPError(w, err)
			return
		}
		if deviceOf != nil {
			if d := deviceOf(r); d != "" && d != g.GetDeviceId() {
				writeHTTPError(w, Errorf(ReasonTokenInvalid, "the download token is for another device"))
				return
			}
		}
		fi, err := c.StatPath(r.Context(), uploadID, filePath)
		if err != nil {
			writeHTTPError(w, err)
			return
		}
		c.Serve(w, r, fi, syv1.FileState_FILE_STATE_DOWNLOADING)
	})
}

// splitDownloadPath takes the upload id and file path from
// PathValue (when mounted with DownloadPattern) or the URL path.
func splitDownloadPath(r *http.Request) (uploadID, filePath string, ok bool) {
	uploadID, filePath = r.PathValue("id"), r.PathValue("path")
	if uploadID == "" {
		rest, found := strings.CutPrefix(r.URL.Path, "/v1/uploads/")
		if !found {
			return "", "", false
		}
		uploadID, filePath, _ = strings.Cut(rest, "/files/")
	}
	return uploadID, filePath, uploadID != "" && filePath != ""
}

// Serve writes a stored file with http.ServeContent (Range, If-Range,
// HEAD), streaming it from JetStream. The caller has authorized the
// request. state is the file's state while it is sent: Downloading for a
// device's fetch, Reading for GET /files/{id}; it returns to Normal after.
func (c *Client) Serve(w http.ResponseWriter, r *http.Request, fi *FileInfo, state syv1.FileState) {
	rd, err := c.Open(r.Context(), fi)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	defer rd.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	if fi.SHA256 != "" {
		h.Set("ETag", strconv.Quote("sha256:"+fi.SHA256))
		h.Set("X-Checksum-Sha256", fi.SHA256)
	}
	tw := &transferWriter{ResponseWriter: w, c: c, fi: fi, state: state, get: r.Method == http.MethodGet}
	http.ServeContent(tw, r, "", fi.Completed, rd)
	tw.finish()
}

// transferWriter turns a response into Download transfer events.
type transferWriter struct {
	http.ResponseWriter
	c     *Client
	fi    *FileInfo
	state syv1.FileState
	get   bool

	p       *syv1.UploadProgress
	written int64
}

func (t *transferWriter) WriteHeader(code int) {
	if t.get && (code == http.StatusOK || code == http.StatusPartialContent) && t.p == nil {
		size, _ := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64)
		now := t.c.nowFunc()
		t.p = &syv1.UploadProgress{UserId: t.fi.OwnerUserID, DeviceId: t.fi.DeviceID, UploadId: t.fi.UploadID,
			TransferId: newTransferID(), TransferMode: ModeDownload, Status: StatusInProgress, StorageType: StorageType,
			Path: EventPath(t.fi.UploadID, t.fi.Path), Size: size, Name: t.fi.Name, StorageName: StorageName,
			StartTimeUnixMs: now.UnixMilli(), FileId: t.fi.FileID}
		t.fileState(t.state)
		t.c.events.Progress(t.p)
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *transferWriter) Write(b []byte) (int, error) {
	n, err := t.ResponseWriter.Write(b)
	t.written += int64(n)
	if t.p != nil {
		t.p.Bytes = t.written
		t.c.events.Progress(t.p)
	}
	return n, err
}

func (t *transferWriter) finish() {
	if t.p == nil {
		return
	}
	t.p.Bytes = t.written
	if t.written >= t.p.GetSize() {
		t.p.Status = StatusCompleted
		t.c.events.Progress(t.p)
		t.fileState(syv1.FileState_FILE_STATE_NORMAL)
		return
	}
	t.p.Status = StatusFailed
	t.p.Error = fmt.Sprintf("response ended after %d of %d bytes", t.written, t.p.GetSize())
	t.c.events.Progress(t.p)
	t.fileState(syv1.FileState_FILE_STATE_ERROR)
	// The stored file is intact: it is Normal again for the next reader.
	t.fileState(syv1.FileState_FILE_STATE_NORMAL)
}

func (t *transferWriter) fileState(s syv1.FileState) {
	t.c.events.FileState(&syv1.UploadFileState{UserId: t.fi.OwnerUserID, DeviceId: t.fi.DeviceID, UploadId: t.fi.UploadID,
		Path: EventPath(t.fi.UploadID, t.fi.Path), StorageName: StorageName, State: s, FileId: t.fi.FileID})
}

// Flush passes on to the underlying writer when it can flush.
func (t *transferWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// HTTPStatus is the HTTP status for an upload error.
func HTTPStatus(err error) int {
	e := AsError(err)
	switch {
	case e == nil:
		return http.StatusOK
	case e.Reason == ReasonTokenInvalid:
		return http.StatusForbidden
	case e.Reason == ReasonUnavailable:
		return http.StatusServiceUnavailable
	case e.Code == CodeNotFound:
		return http.StatusNotFound
	case e.Code == CodeBadRequest:
		return http.StatusBadRequest
	case e.Code == CodeConflict:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// writeHTTPError answers {"code": reason, "message": …} like the
// gateway's REST errors.
func writeHTTPError(w http.ResponseWriter, err error) {
	e := AsError(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(HTTPStatus(e))
	_ = json.NewEncoder(w).Encode(map[string]string{"code": e.Reason, "message": e.Message})
}
