package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// FileInfo describes one file of a completed upload.
type FileInfo struct {
	FileID      string
	UploadID    string
	Index       int
	Path        string // relative path as declared
	Name        string // base name
	Size        int64
	SHA256      string // hex
	OwnerUserID string
	DeviceID    string
	HubID       string
	Completed   time.Time
}

// Stat describes the file with a FileID (GET /files/{id}). Ids that are
// not upload file ids, files of unknown, incomplete or cancelled uploads
// are ReasonUnknownFile / ReasonUnknownUpload. The caller checks that the
// requester may read it (OwnerUserID).
func (c *Client) Stat(ctx context.Context, fileID string) (*FileInfo, error) {
	uploadID, index, ok := ParseFileID(fileID)
	if !ok {
		return nil, Errorf(ReasonUnknownFile, "no upload file %q", fileID)
	}
	m, err := c.completedManifest(ctx, uploadID)
	if err != nil {
		return nil, err
	}
	if index >= len(m.GetFiles()) {
		return nil, Errorf(ReasonUnknownFile, "no upload file %q", fileID)
	}
	return fileInfo(m, index), nil
}

// StatPath describes a file of a completed upload by its declared path.
func (c *Client) StatPath(ctx context.Context, uploadID, filePath string) (*FileInfo, error) {
	m, err := c.completedManifest(ctx, uploadID)
	if err != nil {
		return nil, err
	}
	index, err := FileIndex(m, filePath)
	if err != nil {
		return nil, err
	}
	return fileInfo(m, index), nil
}

func (c *Client) completedManifest(ctx context.Context, uploadID string) (*syv1.UploadManifest, error) {
	_, kv, err := c.handles(ctx)
	if err != nil {
		return nil, err
	}
	m, _, err := LoadManifest(ctx, kv, uploadID, "")
	if err != nil {
		return nil, err
	}
	if m.GetState() != syv1.UploadState_UPLOAD_STATE_COMPLETED {
		return nil, Errorf(ReasonUnknownFile, "upload %s is not complete", uploadID)
	}
	return m, nil
}

func fileInfo(m *syv1.UploadManifest, i int) *FileInfo {
	f := m.GetFiles()[i]
	fi := &FileInfo{FileID: FileID(m.GetUploadId(), i), UploadID: m.GetUploadId(), Index: i, Path: f.GetPath(),
		Name: EventName(f.GetPath()), Size: f.GetSize(), OwnerUserID: m.GetOwnerUserId(), DeviceID: m.GetDeviceId(),
		HubID: m.GetHubId(), Completed: time.UnixMilli(m.GetCompletedUnixMs())}
	if i < len(m.GetSha256()) {
		fi.SHA256 = m.GetSha256()[i]
	}
	return fi
}

// Open streams a stored file from JetStream (io.ReadSeeker; at most a
// few chunks in memory). Close it when done.
func (c *Client) Open(ctx context.Context, fi *FileInfo) (*Reader, error) {
	st, _, err := c.handles(ctx)
	if err != nil {
		return nil, err
	}
	return OpenStored(ctx, st, fi.UploadID, fi.Index, fi.Size)
}

// OpenStored opens file index of an upload straight from the chunk stream.
func OpenStored(ctx context.Context, st jetstream.Stream, uploadID string, index int, size int64) (*Reader, error) {
	refs, err := listChunks(ctx, st, uploadID, index)
	if err != nil {
		return nil, err
	}
	segs, err := plan(refs, size)
	if err != nil {
		return nil, err
	}
	return newReader(ctx, st, segs, size), nil
}

// CheckToken returns the grant of a download token valid for uploadID
// now; otherwise ReasonTokenInvalid.
func (c *Client) CheckToken(ctx context.Context, uploadID, token string) (*syv1.DownloadGrant, error) {
	if token == "" {
		return nil, Errorf(ReasonTokenInvalid, "a download token is required")
	}
	if !ValidID(uploadID) {
		return nil, Errorf(ReasonUnknownUpload, "no upload %q", uploadID)
	}
	_, kv, err := c.handles(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, GrantKey(uploadID, TokenDigest(token)))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, Errorf(ReasonTokenInvalid, "unknown download token")
	}
	if err != nil {
		return nil, fmt.Errorf("upload: read grant: %w", err)
	}
	g := &syv1.DownloadGrant{}
	if err := proto.Unmarshal(e.Value(), g); err != nil {
		return nil, fmt.Errorf("upload: decode grant: %w", err)
	}
	if g.GetUploadId() != uploadID || c.nowFunc().UnixMilli() >= g.GetExpiresUnixMs() {
		return nil, Errorf(ReasonTokenInvalid, "the download token expired")
	}
	return g, nil
}

func newTransferID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "dl-" + hex.EncodeToString(b[:])
}
