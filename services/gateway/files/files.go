// Package files is the gateway's file room (issue 4), outside the core:
// POST /files and GET /files/{id}, the bytes of a file.upload loaded for
// the runtime's socket (a delivery hook), and the bytes of a runtime's
// file.available stored before it goes on (an ingest hook).
package files

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// Files (issue 4). The bytes of every file live in the JetStream object
// store bus.BucketFiles() under the file id; NATS messages only ever carry the
// metadata. Three paths:
//
//   - POST /files (multipart): the upload is streamed into the object
//     store, then an Envelope{type:"file.upload"} without data goes to
//     SY_IN; the session service checks ownership and hands it to the relay,
//     and the gateway that holds the runtime's socket loads the bytes
//     (attachFile) when it writes the frame, so the runtime gets base64 data.
//   - file.available from a runtime: the decoded bytes are stored
//     (storeAvailableFile) and the envelope goes on without data; the
//     session service appends it to the transcript (clients get metadata).
//   - GET /files/{id}: any gateway streams the object to the owner of the
//     file's session.

// Object metadata keys (ObjectMeta.Metadata) of a stored file.
const (
	fileMetaSession = "session_id"
	fileMetaName    = "name"
	fileMetaMime    = "mime_type"
	fileMetaOrigin  = "origin" // "upload" or "runtime"
	fileMetaUser    = "user_id"
	fileMetaRuntime = "runtime_id"

	fileOriginUpload  = "upload"
	fileOriginRuntime = "runtime"

	// multipartSlack is what a multipart body may carry besides the file's
	// bytes (boundaries, part headers, the session_id field).
	multipartSlack = 64 << 10
	// maxFileName bounds the stored file name (bytes), maxMimeType the
	// stored media type.
	maxFileName = 255
	maxMimeType = 255
)

// FileView is the REST representation of a stored file (201 of POST /files).
type FileView struct {
	FileID    string `json:"file_id"`
	Name      string `json:"name"`
	MimeType  string `json:"mime_type"`
	Size      int64  `json:"size"`
	SessionID string `json:"session_id"`
}

// room is the file room on one gateway.
type room struct {
	s        *edge.Server
	throttle *codec.Throttle
	uploads  *upload.Client
}

// Register serves files on s (an edge.Room).
func Register(s *edge.Server) error {
	f := &room{s: s, throttle: codec.NewThrottle(progressPerSecond), uploads: upload.NewClient(s.Bus(), upload.ClientOptions{})}
	for _, prefix := range rest.Prefixes {
		s.Handle("DELETE "+prefix+"/files/{id}", rest.Authed(s, f.deleteFileCall))
		s.Handle("POST "+prefix+"/files", rest.Authed(s, f.uploadFile))
		s.Handle("GET "+prefix+"/files/{id}", rest.Authed(s, f.downloadFile))
		s.Handle("GET "+prefix+"/sessions/{id}/files", rest.Authed(s, f.sessionFiles))
	}
	s.OnDeliver(kind.FileUpload, f.attachFile)
	s.OnIngest(kind.FileAvailable, f.storeAvailableFile)
	return nil
}

func (s *room) maxFileBytes() int64 { return s.s.Config().MaxFileBytes }

// files opens the object store created by bus.EnsureStreams.
func (s *room) files(ctx context.Context) (jetstream.ObjectStore, error) { return openFiles(ctx, s.s) }

func openFiles(ctx context.Context, s *edge.Server) (jetstream.ObjectStore, error) {
	obs, err := s.Bus().JS.ObjectStore(ctx, bus.BucketFiles())
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", bus.BucketFiles(), err)
	}
	return obs, nil
}

// errFileTooLarge is returned by sizeLimit once the file exceeds the limit.
var errFileTooLarge = errors.New("file exceeds the size limit")

// sizeLimit counts the bytes read from r and fails with errFileTooLarge
// once more than max were read. It remembers the first read error, so a
// failed object store Put can be told apart from a failed upload.
type sizeLimit struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

func (l *sizeLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		err = errFileTooLarge
	}
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

// fileTooLarge reports whether err comes from one of the size limits.
func fileTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.Is(err, errFileTooLarge) || errors.As(err, &mbe)
}

// uploadSession checks that user may upload into session sid. On refusal
// it returns the HTTP status and error code to answer with.
func (s *room) uploadSession(ctx context.Context, sid, user string) (status int, code, msg string) {
	if !bus.ValidToken(sid) {
		return http.StatusBadRequest, errcode.InvalidMessage, "session_id must be 1-128 characters of [A-Za-z0-9_-]"
	}
	info, _, err := s.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return http.StatusNotFound, errcode.SessionNotFound, "no session " + sid
	case err != nil:
		return http.StatusServiceUnavailable, errcode.Unavailable, err.Error()
	case info.GetUserId() != user:
		return http.StatusForbidden, errcode.Forbidden, "session belongs to another user"
	case info.GetStatus() != catalog.StatusActive:
		return http.StatusConflict, errcode.SessionClosed, "session " + sid + " is " + info.GetStatus()
	}
	return 0, "", ""
}

// uploadFile is POST /files: multipart/form-data with a session_id field
// and one file part. The file is streamed into the object store (a file
// part that arrives before session_id is buffered, within the size limit,
// until the session is checked), then forwarded to the session's runtime
// as file.upload.
func (s *room) uploadFile(w http.ResponseWriter, r *http.Request, user string) {
	ctx, span := s.s.Tracer().Start(r.Context(), "gateway.POST /files", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	limit := s.maxFileBytes()
	if r.ContentLength > limit+multipartSlack {
		rest.WriteError(w, http.StatusRequestEntityTooLarge, errcode.FileTooLarge, fmt.Sprintf("files are limited to %d bytes", limit))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be multipart/form-data with a session_id field and a file part")
		return
	}
	obs, err := s.files(ctx)
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	fileID := uuid.NewString()
	var (
		sid      string // set once checked
		stored   *jetstream.ObjectInfo
		buffered []byte // file part seen before session_id
		gotFile  bool
		name     string
		mimeType string
	)
	meta := func() jetstream.ObjectMeta {
		return fileObjectMeta(fileID, sid, name, mimeType, fileOriginUpload, fileMetaUser, user)
	}
	// Push events of the upload (Progress Upload, Uploading → Normal, or
	// Error when it is refused after its bytes started).
	var up *countingReader
	upTransfer := func(rd io.Reader, size int64) io.Reader {
		path := eventPath(sid, name)
		s.fileState(user, path, codec.StateUploading)
		up = &countingReader{r: rd, t: s.startTransfer(syv1.TransferMode_TRANSFER_MODE_UPLOAD, fileID, user, path, name, size)}
		return up
	}
	endTransfer := func(err error) {
		if up == nil {
			return
		}
		size := up.n
		if stored != nil {
			size = int64(stored.Size)
		}
		up.t.end(up.n, size, err)
		if err != nil {
			s.fileState(user, eventPath(sid, name), codec.StateError)
		} else {
			s.fileState(user, eventPath(sid, name), codec.StateNormal)
		}
		up = nil
	}
	fail := func(status int, code, msg string) {
		endTransfer(errors.New(msg))
		if stored != nil {
			s.deleteFile(obs, fileID)
		}
		span.SetAttributes(attribute.String("sy.error", code))
		rest.WriteError(w, status, code, msg)
	}
	readFailed := func(err error) {
		if fileTooLarge(err) {
			fail(http.StatusRequestEntityTooLarge, errcode.FileTooLarge, fmt.Sprintf("files are limited to %d bytes", limit))
			return
		}
		fail(http.StatusBadRequest, errcode.InvalidMessage, "malformed multipart body: "+err.Error())
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			readFailed(err)
			return
		}
		switch part.FormName() {
		case "session_id":
			if sid != "" {
				fail(http.StatusBadRequest, errcode.InvalidMessage, "more than one session_id field")
				return
			}
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				readFailed(err)
				return
			}
			want := strings.TrimSpace(string(b))
			if status, code, msg := s.uploadSession(ctx, want, user); status != 0 {
				fail(status, code, msg)
				return
			}
			sid = want
			span.SetAttributes(attribute.String("sy.session_id", sid))
			if buffered != nil {
				if stored, err = obs.Put(ctx, meta(), upTransfer(bytes.NewReader(buffered), int64(len(buffered)))); err != nil {
					endTransfer(err)
					fail(http.StatusServiceUnavailable, errcode.Unavailable, "file not stored: "+err.Error())
					return
				}
				buffered = nil
			}
		case "file":
			if gotFile {
				fail(http.StatusBadRequest, errcode.InvalidMessage, "more than one file part")
				return
			}
			gotFile = true
			name = fileName(part.FileName(), "file")
			lr := &sizeLimit{r: part, max: limit}
			br := bufio.NewReaderSize(lr, 512)
			head, _ := br.Peek(512) // the error, if any, comes again from the reads below
			mimeType = fileMime(part.Header.Get("Content-Type"), head)
			if sid == "" {
				if buffered, err = io.ReadAll(br); err != nil {
					readFailed(err)
					return
				}
				if buffered == nil {
					buffered = []byte{}
				}
				continue
			}
			if stored, err = obs.Put(ctx, meta(), upTransfer(br, max(r.ContentLength, 0))); err != nil {
				endTransfer(err)
				if lr.err != nil {
					stored = nil // Put purged what it had written
					readFailed(lr.err)
					return
				}
				fail(http.StatusServiceUnavailable, errcode.Unavailable, "file not stored: "+err.Error())
				return
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				readFailed(err)
				return
			}
		}
	}
	switch {
	case sid == "":
		fail(http.StatusBadRequest, errcode.InvalidMessage, "the form needs a session_id field")
		return
	case !gotFile:
		fail(http.StatusBadRequest, errcode.InvalidMessage, "the form needs a file part")
		return
	}
	md := &syv1.FileMetadata{FileId: fileID, Name: name, MimeType: mimeType, Size: int64(stored.Size)}
	span.SetAttributes(attribute.String("sy.file_id", fileID), attribute.Int64("sy.file_size", md.GetSize()))
	// The bytes are durable; the runtime gets them through the object store
	// (attachFile), so the envelope carries metadata only.
	env := &syv1.Envelope{
		Type: kind.FileUpload, Id: "file-" + fileID, SessionId: sid, UserId: user, Ts: clock.Stamp(time.Now()),
		Origin: &syv1.Route{Pod: s.s.Pod(), ConnId: "", Dialect: kind.RoleClient.String(), Role: kind.RoleClient.String()},
		Body:   &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: sid, Metadata: md}},
	}
	if _, err := s.s.Bus().Publish(ctx, bus.InboundSubject(s.s.Config().Partitions, sid), env); err != nil {
		s.s.Log().WarnContext(ctx, "file.upload not accepted", "file_id", fileID, "err", err)
		fail(http.StatusServiceUnavailable, errcode.Unavailable, "the file could not be forwarded to the runtime now; retry")
		return
	}
	endTransfer(nil)
	rest.WriteJSON(w, http.StatusCreated, FileView{FileID: fileID, Name: name, MimeType: mimeType, Size: md.GetSize(), SessionID: sid})
}

// deleteFile removes a stored object whose upload was refused afterwards.
func (s *room) deleteFile(obs jetstream.ObjectStore, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := obs.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		s.s.Log().Warn("refused upload not deleted", "file_id", id, "err", err)
	}
}

// downloadFile is GET /files/{id}: the bytes, to the owner of the file's
// session, with Range support.
func (s *room) downloadFile(w http.ResponseWriter, r *http.Request, user string) {
	ctx, span := s.s.Tracer().Start(r.Context(), "gateway.GET /files", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	id := r.PathValue("id")
	span.SetAttributes(attribute.String("sy.file_id", id))
	if !bus.ValidToken(id) {
		rest.WriteError(w, http.StatusNotFound, errcode.FileNotFound, "no file "+id)
		return
	}
	if _, _, ok := upload.ParseFileID(id); ok {
		s.serveUploadFile(w, r, id, user)
		return
	}
	obs, err := s.files(ctx)
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	info, err := obs.GetInfo(ctx, id)
	if fileReadFailed(w, err, id) {
		return
	}
	sid := info.Metadata[fileMetaSession]
	sess, _, err := s.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		// A file whose session record is gone belongs to nobody.
		rest.WriteError(w, http.StatusNotFound, errcode.FileNotFound, "no file "+id)
		return
	case err != nil:
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	case sess.GetUserId() != user:
		rest.WriteError(w, http.StatusForbidden, errcode.Forbidden, "file belongs to another user's session")
		return
	}
	// Files are at most SY_MAX_FILE_BYTES: reading one into memory keeps
	// Range and conditional requests to http.ServeContent.
	data, err := obs.GetBytes(ctx, id)
	if fileReadFailed(w, err, id) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", fileMime(info.Metadata[fileMetaMime], data))
	h.Set("Content-Disposition", contentDisposition(fileName(info.Metadata[fileMetaName], id)))
	h.Set("X-Content-Type-Options", "nosniff")
	if info.Digest != "" {
		h.Set("ETag", strconv.Quote(info.Digest))
	}
	name := fileName(info.Metadata[fileMetaName], id)
	if r.Method != http.MethodGet {
		serveBytes(w, r, data, info.ModTime)
		return
	}
	dw := &downloadWriter{ResponseWriter: w, s: s, user: user, path: eventPath(sid, name), name: name}
	serveBytes(dw, r, data, info.ModTime)
	dw.finish()
}

// serveBytes answers with data, honouring Range and conditional requests;
// every 416 carries Content-Range: bytes */size.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, mod time.Time) {
	if !dropEmptySuffixRanges(r) {
		w.Header().Set("Content-Range", "bytes */"+strconv.Itoa(len(data)))
		rest.WriteError(w, http.StatusRequestedRangeNotSatisfiable, errcode.InvalidMessage, "range not satisfiable: a suffix range of 0 bytes selects nothing")
		return
	}
	http.ServeContent(unsatisfiable{w, int64(len(data))}, r, "", mod, bytes.NewReader(data))
}

// unsatisfiable gives every 416 its Content-Range: bytes */size (RFC
// 9110 §15.5.17); http.ServeContent sets it only for some of them.
type unsatisfiable struct {
	http.ResponseWriter
	size int64
}

func (u unsatisfiable) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable && u.Header().Get("Content-Range") == "" {
		u.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(u.size, 10))
	}
	u.ResponseWriter.WriteHeader(code)
}

// dropEmptySuffixRanges removes suffix ranges of 0 bytes ("-0") from a
// Range header, which select nothing (http.ServeContent would answer 206
// with an inverted range); false when nothing else is left, so the
// request is unsatisfiable. An If-Range request is left to ServeContent.
func dropEmptySuffixRanges(r *http.Request) bool {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok || r.Header.Get("If-Range") != "" {
		return true
	}
	var keep []string
	for _, part := range strings.Split(spec, ",") {
		if p := strings.TrimSpace(part); strings.HasPrefix(p, "-") && strings.TrimLeft(p[1:], "0") == "" && len(p) > 1 {
			continue
		}
		keep = append(keep, part)
	}
	if len(keep) == 0 {
		return false
	}
	r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	return true
}

// attachFile loads the bytes of a file.upload (metadata only on the bus)
// from the object store just before the frame is written to the runtime.
func (s *room) attachFile(ctx context.Context, _ *edge.Conn, env *syv1.Envelope) error {
	f := env.GetFile()
	if f == nil {
		return edge.DeliveryError("file.upload without a file body")
	}
	if len(f.GetData()) > 0 {
		return nil
	}
	id := f.GetMetadata().GetFileId()
	if !bus.ValidToken(id) {
		return edge.DeliveryError("file.upload with invalid file id " + strconv.Quote(id))
	}
	ctx, cancel := context.WithTimeout(ctx, s.s.Config().RequestTimeout)
	defer cancel()
	obs, err := s.files(ctx)
	if err != nil {
		return err
	}
	data, err := getBytes(ctx, obs, id)
	if err != nil {
		s.s.Log().Warn("file.upload not delivered: bytes not loaded", "file_id", id, "session", env.GetSessionId(), "err", err)
		return fmt.Errorf("file %s: %w", id, err)
	}
	f.Data = data
	return nil
}

// getBytes is obs.GetBytes that returns as soon as ctx is cancelled (the
// socket was released): nats.go's object reader waits for a missing chunk
// (a file deleted while it is read) until ctx's deadline and ignores
// cancellation. The read left behind ends by that deadline.
func getBytes(ctx context.Context, obs jetstream.ObjectStore, id string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := obs.GetBytes(ctx, id)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// storeAvailableFile handles file.available from a runtime: the decoded
// bytes go to the object store, the envelope goes on to the session
// service with metadata only (the transcript never holds file bytes).
func (s *room) storeAvailableFile(ctx context.Context, sk *edge.Conn, env *syv1.Envelope) bool {
	ctx, span := s.s.Tracer().Start(ctx, "gateway.store "+env.GetType(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.conn", sk.ID())))
	defer span.End()
	sid := env.GetSessionId()
	f := env.GetFile()
	if f == nil {
		sk.SendError(sid, errcode.InvalidMessage, "file.available needs a payload with metadata and data")
		return false
	}
	data, md := f.GetData(), f.GetMetadata()
	if limit := s.maxFileBytes(); int64(len(data)) > limit {
		sk.SendError(sid, errcode.FileTooLarge, fmt.Sprintf("files are limited to %d bytes; this one has %d", limit, len(data)))
		return false
	}
	if md.GetSize() != int64(len(data)) {
		sk.SendError(sid, errcode.InvalidMessage, fmt.Sprintf("metadata.size is %d but data has %d bytes", md.GetSize(), len(data)))
		return false
	}
	info, _, err := s.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		sk.SendError(sid, errcode.SessionNotFound, "no session "+sid)
		return false
	case err != nil:
		sk.SendError(sid, errcode.Unavailable, "the hub could not check the session now; retry")
		return false
	case info.GetRuntimeId() != sk.Principal():
		sk.SendError(sid, errcode.Forbidden, "this socket may not act on session "+sid)
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, s.s.Config().RequestTimeout)
	defer cancel()
	obs, err := s.files(rctx)
	if err != nil {
		s.s.Log().WarnContext(ctx, "file.available not stored", "err", err)
		sk.SendError(sid, errcode.Unavailable, "the hub could not store this file now; retry")
		return false
	}
	fileID, same, err := s.availableID(rctx, obs, md.GetFileId(), sid, sk.Principal(), md, data)
	if err != nil {
		s.s.Log().WarnContext(ctx, "file.available not stored", "err", err)
		sk.SendError(sid, errcode.Unavailable, "the hub could not store this file now; retry")
		return false
	}
	name := fileName(md.GetName(), fileID)
	mimeType := fileMime(md.GetMimeType(), data)
	if fileID != md.GetFileId() && bus.ValidToken(md.GetFileId()) {
		env.Id = "file-" + fileID // another file than the one stored under its id: a new entry
	}
	if !same {
		meta := fileObjectMeta(fileID, sid, name, mimeType, fileOriginRuntime, fileMetaRuntime, sk.Principal())
		if _, err := obs.Put(rctx, meta, bytes.NewReader(data)); err != nil {
			s.s.Log().WarnContext(ctx, "file.available not stored", "file_id", fileID, "err", err)
			sk.SendError(sid, errcode.Unavailable, "the hub could not store this file now; retry")
			return false
		}
	}
	span.SetAttributes(attribute.String("sy.file_id", fileID), attribute.Int("sy.file_size", len(data)))
	f.Data = nil
	f.SessionId = sid
	f.Metadata = &syv1.FileMetadata{FileId: fileID, Name: name, MimeType: mimeType, Size: int64(len(data))}
	if env.GetId() == "" {
		// A resend of the same file within the dedupe window is stored once
		// in the transcript.
		env.Id = "file-" + fileID
	}
	return true
}

// availableID is the id a runtime's file.available is stored under. A
// stored file never changes (issue 9 item 5): an id that is already taken
// — by a user's upload, another session's file, or an earlier file of
// this runtime with other bytes or metadata — gets a fresh id, so the new
// file is a new transcript entry whose metadata is what GET /files/{id}
// serves, and the old file stays as it was. The same file sent again
// (same session, runtime, bytes, name and type) keeps its id and is not
// stored again (same: true), so a resend stays one transcript entry.
func (s *room) availableID(ctx context.Context, obs jetstream.ObjectStore, id, sid, runtime string, md *syv1.FileMetadata, data []byte) (fileID string, same bool, err error) {
	if !bus.ValidToken(id) {
		return uuid.NewString(), false, nil
	}
	prev, err := obs.GetInfo(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return id, false, nil
	case err != nil:
		return "", false, err
	}
	m := prev.Metadata
	sum := sha256.Sum256(data)
	if m[fileMetaOrigin] == fileOriginRuntime && m[fileMetaSession] == sid && m[fileMetaRuntime] == runtime &&
		prev.Digest == "SHA-256="+base64.URLEncoding.EncodeToString(sum[:]) &&
		m[fileMetaName] == fileName(md.GetName(), id) && m[fileMetaMime] == fileMime(md.GetMimeType(), data) {
		return id, true, nil
	}
	fresh := uuid.NewString()
	s.s.Log().InfoContext(ctx, "file.available reuses a stored file id: stored under a new id", "file_id", id, "new_file_id", fresh,
		"session", sid, "runtime", runtime, "taken_by", m[fileMetaOrigin])
	return fresh, false, nil
}

// fileObjectMeta is the object store entry of a file: the object name is
// the file id, the metadata records where it belongs and what it is.
func fileObjectMeta(id, session, name, mimeType, origin, principalKey, principal string) jetstream.ObjectMeta {
	return jetstream.ObjectMeta{
		Name:        id,
		Description: name,
		Headers:     nats.Header{"Content-Type": []string{mimeType}},
		Metadata: map[string]string{
			fileMetaSession: session, fileMetaName: name, fileMetaMime: mimeType,
			fileMetaOrigin: origin, principalKey: principal,
		},
	}
}

// fileName keeps the last path element of name, without control
// characters, at most maxFileName bytes; fallback when nothing is left.
func fileName(name, fallback string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > maxFileName {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" || name == "." || name == ".." {
		return fallback
	}
	return name
}

// fileMime normalizes a declared media type; an absent, unparsable or
// generic (application/octet-stream) one is sniffed from the content.
func fileMime(declared string, head []byte) string {
	if mt, params, err := mime.ParseMediaType(declared); err == nil && mt != "application/octet-stream" {
		if out := mime.FormatMediaType(mt, params); out != "" && len(out) <= maxMimeType {
			return out
		}
	}
	if len(head) > 512 {
		head = head[:512]
	}
	return http.DetectContentType(head)
}

// contentDisposition renders attachment; filename="…": the name quoted
// (quotes and backslashes escaped), with non-ASCII characters replaced by
// "_" there and the exact name added as RFC 2231 filename* (rendered by
// mime.FormatMediaType) when it has any.
func contentDisposition(name string) string {
	ascii := true
	fallback := strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf || unicode.IsControl(r) {
			ascii = false
			return '_'
		}
		return r
	}, name)
	v := `attachment; filename="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(fallback) + `"`
	if !ascii {
		if ext := mime.FormatMediaType("attachment", map[string]string{"filename": name}); strings.Contains(ext, "filename*=") {
			v += ext[len("attachment"):]
		}
	}
	return v
}

// fileReadFailed answers a failed object-store read (404 for a missing
// object, 503 otherwise); false when there was no error.
func fileReadFailed(w http.ResponseWriter, err error, id string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, jetstream.ErrObjectNotFound):
		rest.WriteError(w, http.StatusNotFound, errcode.FileNotFound, "no file "+id)
	default:
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
	}
	return true
}
