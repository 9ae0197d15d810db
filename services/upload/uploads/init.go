package uploads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// initUpload declares an upload: the manifest is created in KV and every
// file is Temporary until its first chunk.
func (s *Service) initUpload(ctx context.Context, data []byte) (proto.Message, error) {
	reply := &syv1.UploadInitReply{}
	req := &syv1.UploadInitRequest{}
	err := decode(data, req)
	var m *syv1.UploadManifest
	if err == nil {
		m, err = s.manifestFor(req)
	}
	if err == nil {
		err = s.createManifest(ctx, m)
	}
	if err != nil {
		reply.Error = upload.ToProto(err)
		return reply, err
	}
	for i, f := range m.GetFiles() {
		s.fileState(m, i, f.GetPath(), syv1.FileState_FILE_STATE_TEMPORARY)
	}
	reply.UploadId, reply.ChunkSize = m.GetUploadId(), m.GetChunkSize()
	return reply, nil
}

// manifestFor validates an init request into a new manifest.
func (s *Service) manifestFor(req *syv1.UploadInitRequest) (*syv1.UploadManifest, error) {
	files := req.GetFiles()
	switch {
	case len(files) == 0:
		return nil, upload.Errorf(upload.ReasonBadRequest, "an upload needs at least one file")
	case len(files) > s.cfg.MaxFiles:
		return nil, upload.Errorf(upload.ReasonBadRequest, "%d files: at most %d per upload", len(files), s.cfg.MaxFiles)
	case req.GetTotalSize() < 0 || req.GetTotalSize() > s.cfg.MaxTotalBytes:
		return nil, upload.Errorf(upload.ReasonBadRequest, "totalSize %d: must be 0..%d", req.GetTotalSize(), s.cfg.MaxTotalBytes)
	case len(req.GetConfigJson()) > 0 && !json.Valid(req.GetConfigJson()):
		return nil, upload.Errorf(upload.ReasonBadRequest, "config is not JSON")
	}
	m := &syv1.UploadManifest{UploadId: upload.NewID(), OwnerUserId: req.GetOwnerUserId(), DeviceId: req.GetDeviceId(),
		HubId: req.GetHubId(), ConfigJson: req.GetConfigJson(), TotalSize: req.GetTotalSize(),
		State: syv1.UploadState_UPLOAD_STATE_ACTIVE, CreatedUnixMs: s.now().UnixMilli(), ChunkSize: s.chunk}
	seen := make(map[string]bool, len(files))
	var sum int64
	for _, f := range files {
		p, err := upload.CleanPath(f.GetPath())
		if err != nil {
			return nil, err
		}
		if f.GetSize() < 0 {
			return nil, upload.Errorf(upload.ReasonBadRequest, "file %q: negative size", f.GetPath())
		}
		if seen[p] {
			return nil, upload.Errorf(upload.ReasonBadRequest, "file %q is declared twice", p)
		}
		seen[p] = true
		sum += f.GetSize()
		if sum > req.GetTotalSize() {
			return nil, upload.Errorf(upload.ReasonOverTotal, "the files add up to more than totalSize %d", req.GetTotalSize())
		}
		m.Files = append(m.Files, &syv1.UploadFile{Path: p, Size: f.GetSize()})
	}
	return m, nil
}

func (s *Service) createManifest(ctx context.Context, m *syv1.UploadManifest) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("uploads: marshal manifest: %w", err)
	}
	if int64(len(data)) > s.bus.NC.MaxPayload()-upload.PayloadOverhead {
		return upload.Errorf(upload.ReasonBadRequest, "the file list is too long (%d bytes encoded)", len(data))
	}
	if _, err := s.kv.Create(ctx, upload.ManifestKey(m.GetUploadId()), data); err != nil {
		return fmt.Errorf("uploads: create manifest: %w", err)
	}
	return nil
}

// saveManifest writes m if the manifest is still at revision rev.
func (s *Service) saveManifest(ctx context.Context, m *syv1.UploadManifest, rev uint64) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("uploads: marshal manifest: %w", err)
	}
	if _, err := s.kv.Update(ctx, upload.ManifestKey(m.GetUploadId()), data, rev); err != nil {
		return fmt.Errorf("uploads: update manifest: %w", err)
	}
	return nil
}

// activeManifest loads an upload that still takes chunks.
func (s *Service) activeManifest(ctx context.Context, uploadID, userID string) (*syv1.UploadManifest, uint64, error) {
	m, rev, err := upload.LoadManifest(ctx, s.kv, uploadID, userID)
	if err != nil {
		return nil, 0, err
	}
	if m.GetState() != syv1.UploadState_UPLOAD_STATE_ACTIVE {
		return nil, 0, upload.Errorf(upload.ReasonNotActive, "upload %s is %s", uploadID, stateName(m.GetState()))
	}
	return m, rev, nil
}

func stateName(s syv1.UploadState) string {
	switch s {
	case syv1.UploadState_UPLOAD_STATE_COMPLETED:
		return "completed"
	case syv1.UploadState_UPLOAD_STATE_CANCELLED:
		return "cancelled"
	case syv1.UploadState_UPLOAD_STATE_ACTIVE:
		return "active"
	}
	return "unknown"
}

// isConflict reports a failed compare-and-set (someone else wrote first).
func isConflict(err error) bool {
	return bus.IsWrongLastSequence(err) || errors.Is(err, jetstream.ErrKeyExists)
}
