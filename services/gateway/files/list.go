package files

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// SessionFileView is one entry of GET /v1/sessions/{id}/files.
type SessionFileView struct {
	FileView
	Origin    string `json:"origin"` // "upload" or "runtime"
	CreatedAt string `json:"created_at"`
}

// sessionFiles is GET /v1/sessions/{id}/files: the stored files of one of
// the caller's sessions (uploads and runtime files), oldest first. Uploads
// are not transcript entries, so a reloaded console needs this to list
// them. It reads the object store's whole listing: fine for a console, not
// for a hot path.
func (s *room) sessionFiles(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	sid := r.PathValue("id")
	info, _, err := s.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		rest.WriteError(w, http.StatusNotFound, errcode.SessionNotFound, "no session "+sid)
		return
	case err != nil:
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	case info.GetUserId() != user:
		rest.WriteError(w, http.StatusForbidden, errcode.Forbidden, "session belongs to another user")
		return
	}
	obs, err := s.files(ctx)
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	list, err := obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := []SessionFileView{}
	for _, o := range list {
		md := o.Metadata
		if o.Deleted || md[fileMetaSession] != sid {
			continue
		}
		out = append(out, SessionFileView{
			FileView:  FileView{FileID: o.Name, Name: md[fileMetaName], MimeType: md[fileMetaMime], Size: int64(o.Size), SessionID: sid},
			Origin:    md[fileMetaOrigin],
			CreatedAt: o.ModTime.UTC().Format(time.RFC3339Nano),
		})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt < out[b].CreatedAt })
	rest.WriteJSON(w, http.StatusOK, out)
}
