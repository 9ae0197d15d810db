package files

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// deleteFileCall is DELETE /v1/files/{id} (owner only): 204 once the bytes are
// gone. A sy_files file is Deleting, then Deleted on /statechange. A file
// of a device upload (<upload id>-f<n>) is deleted with its upload (the
// upload service's cancel: every file of the upload goes Deleting →
// Deleted), since an upload's files share one manifest and grant.
func (s *room) deleteFileCall(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	id := r.PathValue("id")
	if uploadID, _, ok := upload.ParseFileID(id); ok {
		s.deleteUploadFile(w, ctx, id, uploadID, user)
		return
	}
	obs, sid, name, ok := s.ownedFile(w, ctx, id, user)
	if !ok {
		return
	}
	path := eventPath(sid, name)
	s.fileState(user, path, codec.StateDeleting)
	if err := obs.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		s.fileState(user, path, codec.StateError)
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, "file not deleted: "+err.Error())
		return
	}
	s.fileState(user, path, codec.StateDeleted)
	w.WriteHeader(http.StatusNoContent)
}

// ownedFile finds a sy_files file the user may change (the owner of its
// session); it has answered the request when ok is false.
func (s *room) ownedFile(w http.ResponseWriter, ctx context.Context, id, user string) (obs jetstream.ObjectStore, sid, name string, ok bool) {
	obs, err := s.files(ctx)
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return nil, "", "", false
	}
	info, err := obs.GetInfo(ctx, id)
	if fileReadFailed(w, err, id) {
		return nil, "", "", false
	}
	sid = info.Metadata[fileMetaSession]
	sess, _, err := s.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		rest.WriteError(w, http.StatusNotFound, errcode.FileNotFound, "no file "+id)
		return nil, "", "", false
	case err != nil:
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return nil, "", "", false
	case sess.GetUserId() != user:
		rest.WriteError(w, http.StatusForbidden, errcode.Forbidden, "file belongs to another user's session")
		return nil, "", "", false
	}
	return obs, sid, fileName(info.Metadata[fileMetaName], id), true
}

func (s *room) deleteUploadFile(w http.ResponseWriter, ctx context.Context, fileID, uploadID, user string) {
	if _, ok := s.ownUploadFile(w, ctx, fileID, user); !ok {
		return
	}
	if err := s.uploads.Cancel(ctx, uploadID, user); err != nil {
		uploadFailed(w, err, fileID)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveUploadFile is GET /files/{id} of a device upload's file: its
// owner reads it (Reading while it is sent; the upload client publishes
// the Download transfer and the states).
func (s *room) serveUploadFile(w http.ResponseWriter, r *http.Request, fileID, user string) {
	if fi, ok := s.ownUploadFile(w, r.Context(), fileID, user); ok {
		s.uploads.Serve(w, r, fi, syv1.FileState_FILE_STATE_READING)
	}
}

// ownUploadFile reads a device upload's file for user, its owner; false:
// the request was answered (404, 503, 403).
func (s *room) ownUploadFile(w http.ResponseWriter, ctx context.Context, fileID, user string) (*upload.FileInfo, bool) {
	fi, err := s.uploads.Stat(ctx, fileID)
	if err != nil {
		uploadFailed(w, err, fileID)
		return fi, false
	}
	if fi.OwnerUserID != user {
		rest.WriteError(w, http.StatusForbidden, errcode.Forbidden, "file belongs to another user's upload")
		return fi, false
	}
	return fi, true
}

// uploadFailed answers an upload client error: unknown file/upload 404,
// unavailable 503, else the upload error's status.
func uploadFailed(w http.ResponseWriter, err error, id string) {
	e := upload.AsError(err)
	switch st := upload.HTTPStatus(err); st {
	case http.StatusNotFound:
		rest.WriteError(w, st, errcode.FileNotFound, "no file "+id)
	case http.StatusServiceUnavailable:
		rest.WriteError(w, st, errcode.Unavailable, e.Message)
	default:
		rest.WriteError(w, st, e.Reason, e.Message)
	}
}
