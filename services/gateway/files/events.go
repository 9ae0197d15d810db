package files

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/push"
)

// Push events of sy_files transfers (document 000): Progress (Type 1) for
// POST /files uploads and GET /files/{id} downloads, /statechange for the
// file. Path is "<session id>/<file name>", StorageName "sy_files",
// StorageType "ObjectStore"; the upload's TransferId is the file id, a
// download's "dl-<random>". Scope: the session's owner.
const (
	storageType = "ObjectStore"
	storageName = "sy_files" // the base name: the wire is the same in every SY_NAMESPACE
	// progressPerSecond throttles InProgress frames per transfer (the
	// final Completed/Failed frame always goes).
	progressPerSecond = 4
)

func eventPath(session, name string) string { return session + "/" + name }

// transfer is one file transfer's Progress events.
type transfer struct {
	r *room
	p *syv1.TransferProgress
}

func (s *room) startTransfer(mode syv1.TransferMode, id, user, path, name string, size int64) *transfer {
	now := timestamppb.Now()
	t := &transfer{r: s, p: &syv1.TransferProgress{Scope: &syv1.PushScope{UserId: user}, TransferId: id, Mode: mode,
		Status: syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS, StorageType: storageType, Path: path, Size: size,
		Name: name, StorageName: storageName, StartTime: now, ProgressTime: now}}
	t.send()
	return t
}

// at reports n bytes moved so far (throttled).
func (t *transfer) at(n int64) {
	t.p.Bytes = n
	t.send()
}

// end sends the final frame: Completed, or Failed with err's text.
func (t *transfer) end(n, size int64, err error) {
	t.p.Bytes, t.p.Size = n, size
	t.p.Status = syv1.TransferStatus_TRANSFER_STATUS_COMPLETED
	if err != nil {
		t.p.Status, t.p.Error = syv1.TransferStatus_TRANSFER_STATUS_FAILED, err.Error()
	}
	t.send()
}

func (t *transfer) send() {
	now := time.Now()
	if !t.r.throttle.Allow(t.p, now) {
		return
	}
	t.p.ProgressTime = timestamppb.New(now)
	if el := now.Sub(t.p.GetStartTime().AsTime()); el > 0 {
		t.p.Speed = int64(float64(t.p.GetBytes()) / el.Seconds())
	}
	t.r.publish(t.p)
}

// fileState publishes a /statechange event of a sy_files file.
func (s *room) fileState(user, path string, st codec.FileState) {
	s.publish(&syv1.FileStateChange{Scope: &syv1.PushScope{UserId: user}, Path: path, StorageName: storageName, State: uint32(st)})
}

func (s *room) publish(body proto.Message) {
	if err := push.Publish(s.s.Bus().NC, body); err != nil {
		s.s.Log().Warn("push event not published", "err", err)
	}
}

// countingReader reports the bytes read through it to a transfer.
type countingReader struct {
	r io.Reader
	t *transfer
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.t.at(c.n)
	}
	return n, err
}

// downloadWriter turns a GET /files/{id} response into a Download
// transfer: Reading while it is written, Normal after (Error, then Normal,
// when it ended early: the stored file is intact).
type downloadWriter struct {
	http.ResponseWriter
	s          *room
	user, path string
	name       string
	t          *transfer
	written    int64
}

func (d *downloadWriter) WriteHeader(code int) {
	if d.t == nil && (code == http.StatusOK || code == http.StatusPartialContent) {
		size, _ := strconv.ParseInt(d.Header().Get("Content-Length"), 10, 64)
		d.s.fileState(d.user, d.path, codec.StateReading)
		d.t = d.s.startTransfer(syv1.TransferMode_TRANSFER_MODE_DOWNLOAD, downloadID(), d.user, d.path, d.name, size)
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *downloadWriter) Write(b []byte) (int, error) {
	if d.t == nil {
		d.WriteHeader(http.StatusOK)
	}
	n, err := d.ResponseWriter.Write(b)
	d.written += int64(n)
	if d.t != nil {
		d.t.at(d.written)
	}
	return n, err
}

func (d *downloadWriter) finish() {
	if d.t == nil {
		return
	}
	size := d.t.p.GetSize()
	if d.written >= size {
		d.t.end(d.written, size, nil)
		d.s.fileState(d.user, d.path, codec.StateNormal)
		return
	}
	d.t.end(d.written, size, fmt.Errorf("response ended after %d of %d bytes", d.written, size))
	d.s.fileState(d.user, d.path, codec.StateError)
	d.s.fileState(d.user, d.path, codec.StateNormal)
}

func downloadID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "dl-" + hex.EncodeToString(b[:])
}
