package uploads

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// status reports the stored ranges of every file (resume from any pod).
func (s *Service) status(ctx context.Context, data []byte) (proto.Message, error) {
	reply := &syv1.UploadStatusReply{}
	err := func() error {
		ref := &syv1.UploadRef{}
		if err := decode(data, ref); err != nil {
			return err
		}
		m, _, err := upload.LoadManifest(ctx, s.kv, ref.GetUploadId(), ref.GetUserId())
		if err != nil {
			return err
		}
		files, err := s.fileStatuses(ctx, m)
		if err != nil {
			return err
		}
		total, err := s.addTotal(ctx, m.GetUploadId(), 0)
		if err != nil {
			return err
		}
		*reply = syv1.UploadStatusReply{UploadId: m.GetUploadId(), State: m.GetState(), TotalSize: m.GetTotalSize(),
			TotalWritten: total, ChunkSize: m.GetChunkSize(), Files: files, OwnerUserId: m.GetOwnerUserId(),
			DeviceId: m.GetDeviceId(), HubId: m.GetHubId(), ConfigJson: m.GetConfigJson()}
		return nil
	}()
	reply.Error = upload.ToProto(err)
	return reply, err
}

// fileStatuses reads every file's record.
func (s *Service) fileStatuses(ctx context.Context, m *syv1.UploadManifest) ([]*syv1.UploadFileStatus, error) {
	out := make([]*syv1.UploadFileStatus, 0, len(m.GetFiles()))
	for i, f := range m.GetFiles() {
		p, _, err := s.loadProgress(ctx, upload.FileKey(m.GetUploadId(), i))
		if err != nil {
			return nil, err
		}
		fs := &syv1.UploadFileStatus{Path: f.GetPath(), Size: f.GetSize(), Ranges: p.GetRanges(),
			Stored: upload.Ranges(p.GetRanges()).Covered(), FileId: upload.FileID(m.GetUploadId(), i)}
		if i < len(m.GetSha256()) {
			fs.Sha256 = m.GetSha256()[i]
		}
		out = append(out, fs)
	}
	return out, nil
}

// complete verifies that every file is stored, fixes each file's sha256,
// marks the upload completed and issues a download token.
func (s *Service) complete(ctx context.Context, data []byte) (proto.Message, error) {
	reply := &syv1.UploadCompleteReply{}
	err := func() error {
		ref := &syv1.UploadRef{}
		if err := decode(data, ref); err != nil {
			return err
		}
		m, justCompleted, err := s.markCompleted(ctx, ref)
		if err != nil {
			return err
		}
		files, err := s.fileStatuses(ctx, m)
		if err != nil {
			return err
		}
		token, expires, err := s.grant(ctx, m)
		if err != nil {
			return err
		}
		reply.UploadId, reply.Files, reply.DownloadToken, reply.TokenExpiresUnixMs = m.GetUploadId(), files, token, expires
		if justCompleted {
			s.completedEvents(ctx, m)
		}
		return nil
	}()
	reply.Error = upload.ToProto(err)
	return reply, err
}

// markCompleted moves an active upload to completed (or returns a
// completed one as it is).
func (s *Service) markCompleted(ctx context.Context, ref *syv1.UploadRef) (*syv1.UploadManifest, bool, error) {
	for attempt := 0; attempt < casAttempts; attempt++ {
		m, rev, err := upload.LoadManifest(ctx, s.kv, ref.GetUploadId(), ref.GetUserId())
		if err != nil {
			return nil, false, err
		}
		switch m.GetState() {
		case syv1.UploadState_UPLOAD_STATE_COMPLETED:
			return m, false, nil
		case syv1.UploadState_UPLOAD_STATE_ACTIVE:
		default:
			return nil, false, upload.Errorf(upload.ReasonNotActive, "upload %s is %s", m.GetUploadId(), stateName(m.GetState()))
		}
		sums, err := s.digests(ctx, m)
		if err != nil {
			return nil, false, err
		}
		m.State, m.Sha256, m.CompletedUnixMs = syv1.UploadState_UPLOAD_STATE_COMPLETED, sums, s.now().UnixMilli()
		err = s.saveManifest(ctx, m, rev)
		if err == nil {
			return m, true, nil
		}
		if !isConflict(err) {
			return nil, false, err
		}
	}
	return nil, false, upload.Errorf(upload.ReasonUnavailable, "upload %s: too many concurrent writers", ref.GetUploadId())
}

// digests checks every file is wholly stored and returns the sha256 of
// each: the running hash when chunks came in order, else the hash is
// finished by reading the rest of the file from the stream.
func (s *Service) digests(ctx context.Context, m *syv1.UploadManifest) ([]string, error) {
	progs := make([]*syv1.UploadFileProgress, len(m.GetFiles()))
	for i, f := range m.GetFiles() {
		p, _, err := s.loadProgress(ctx, upload.FileKey(m.GetUploadId(), i))
		if err != nil {
			return nil, err
		}
		if start, end, missing := upload.Ranges(p.GetRanges()).FirstGap(f.GetSize()); missing {
			return nil, upload.Errorf(upload.ReasonIncomplete, "%q is missing bytes [%d, %d) (stored %d of %d)",
				f.GetPath(), start, end, upload.Ranges(p.GetRanges()).Covered(), f.GetSize())
		}
		progs[i] = p
	}
	sums := make([]string, len(progs))
	for i, p := range progs {
		sum, err := s.finishHash(ctx, m.GetUploadId(), i, m.GetFiles()[i].GetSize(), p)
		if err != nil {
			return nil, err
		}
		sums[i] = sum
	}
	return sums, nil
}

func (s *Service) finishHash(ctx context.Context, id string, idx int, size int64, p *syv1.UploadFileProgress) (string, error) {
	h, ok := restoreHash(p)
	from := p.GetHashed()
	if !ok || from > size {
		h, _ = restoreHash(&syv1.UploadFileProgress{})
		from = 0
	}
	if from < size {
		r, err := upload.OpenStored(ctx, s.stream, id, idx, size)
		if err != nil {
			return "", err
		}
		defer r.Close()
		if _, err := r.Seek(from, io.SeekStart); err != nil {
			return "", err
		}
		if _, err := io.Copy(h, r); err != nil {
			return "", fmt.Errorf("uploads: hash %s file %d: %w", id, idx, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// grant stores a download token for the upload's device.
func (s *Service) grant(ctx context.Context, m *syv1.UploadManifest) (string, int64, error) {
	token, digest := upload.NewToken()
	expires := s.now().Add(s.cfg.TokenTTL).UnixMilli()
	data, err := proto.Marshal(&syv1.DownloadGrant{UploadId: m.GetUploadId(), DeviceId: m.GetDeviceId(),
		OwnerUserId: m.GetOwnerUserId(), ExpiresUnixMs: expires})
	if err != nil {
		return "", 0, fmt.Errorf("uploads: marshal grant: %w", err)
	}
	if _, err := s.kv.Put(ctx, upload.GrantKey(m.GetUploadId(), digest), data); err != nil {
		return "", 0, fmt.Errorf("uploads: store grant: %w", err)
	}
	return token, expires, nil
}

func (s *Service) completedEvents(ctx context.Context, m *syv1.UploadManifest) {
	for i, f := range m.GetFiles() {
		p, _, err := s.loadProgress(ctx, upload.FileKey(m.GetUploadId(), i))
		if err != nil {
			p = &syv1.UploadFileProgress{}
		}
		s.events.Progress(s.progress(m, i, p, upload.StatusCompleted))
		s.fileState(m, i, f.GetPath(), syv1.FileState_FILE_STATE_NORMAL)
	}
}

// cancelUpload discards everything stored for an upload.
func (s *Service) cancelUpload(ctx context.Context, data []byte) (proto.Message, error) {
	reply := &syv1.UploadCancelReply{}
	err := func() error {
		ref := &syv1.UploadRef{}
		if err := decode(data, ref); err != nil {
			return err
		}
		m, wasActive, err := s.markCancelled(ctx, ref)
		if err != nil {
			return err
		}
		return s.discard(ctx, m, wasActive)
	}()
	reply.Error = upload.ToProto(err)
	return reply, err
}

// markCancelled flags the manifest first, so a chunk stored meanwhile sees
// it (stillActive) and removes itself.
func (s *Service) markCancelled(ctx context.Context, ref *syv1.UploadRef) (*syv1.UploadManifest, bool, error) {
	for attempt := 0; attempt < casAttempts; attempt++ {
		m, rev, err := upload.LoadManifest(ctx, s.kv, ref.GetUploadId(), ref.GetUserId())
		if err != nil {
			return nil, false, err
		}
		was := m.GetState()
		if was == syv1.UploadState_UPLOAD_STATE_CANCELLED {
			return m, false, nil
		}
		m.State = syv1.UploadState_UPLOAD_STATE_CANCELLED
		if err := s.saveManifest(ctx, m, rev); err == nil {
			return m, was == syv1.UploadState_UPLOAD_STATE_ACTIVE, nil
		} else if !isConflict(err) {
			return nil, false, err
		}
	}
	return nil, false, upload.Errorf(upload.ReasonUnavailable, "upload %s: too many concurrent writers", ref.GetUploadId())
}

// discard purges the chunks, then the records, then the manifest.
func (s *Service) discard(ctx context.Context, m *syv1.UploadManifest, wasActive bool) error {
	id := m.GetUploadId()
	for i, f := range m.GetFiles() {
		s.fileState(m, i, f.GetPath(), syv1.FileState_FILE_STATE_DELETING)
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(upload.ChunkFilter(id, -1))); err != nil {
		return fmt.Errorf("uploads: purge chunks of %s: %w", id, err)
	}
	for _, f := range upload.UploadKeyFilters(id) {
		if err := s.kvStream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+s.kv.Bucket()+"."+f)); err != nil {
			return fmt.Errorf("uploads: purge records of %s: %w", id, err)
		}
	}
	if err := s.kv.Purge(ctx, upload.ManifestKey(id)); err != nil {
		return fmt.Errorf("uploads: delete manifest %s: %w", id, err)
	}
	for i, f := range m.GetFiles() {
		if wasActive {
			p := &syv1.UploadFileProgress{}
			s.events.Progress(s.progress(m, i, p, upload.StatusCancelled))
		}
		s.fileState(m, i, f.GetPath(), syv1.FileState_FILE_STATE_DELETED)
	}
	return nil
}

// progress builds the Upload transfer event of one file.
func (s *Service) progress(m *syv1.UploadManifest, idx int, p *syv1.UploadFileProgress, status string) *syv1.UploadProgress {
	f := m.GetFiles()[idx]
	bytes := upload.Ranges(p.GetRanges()).Covered()
	if status == upload.StatusCompleted {
		bytes = f.GetSize()
	}
	start := p.GetStartedUnixMs()
	if start == 0 {
		start = m.GetCreatedUnixMs()
	}
	return &syv1.UploadProgress{UserId: m.GetOwnerUserId(), DeviceId: m.GetDeviceId(), UploadId: m.GetUploadId(),
		TransferId: upload.FileID(m.GetUploadId(), idx), TransferMode: upload.ModeUpload, Status: status,
		StorageType: upload.StorageType, Path: upload.EventPath(m.GetUploadId(), f.GetPath()), Bytes: bytes,
		Size: f.GetSize(), Name: upload.EventName(f.GetPath()), StorageName: upload.StorageName,
		StartTimeUnixMs: start, FileId: upload.FileID(m.GetUploadId(), idx)}
}

func (s *Service) fileState(m *syv1.UploadManifest, idx int, filePath string, st syv1.FileState) {
	s.events.FileState(&syv1.UploadFileState{UserId: m.GetOwnerUserId(), DeviceId: m.GetDeviceId(), UploadId: m.GetUploadId(),
		Path: upload.EventPath(m.GetUploadId(), filePath), StorageName: upload.StorageName, State: st,
		FileId: upload.FileID(m.GetUploadId(), idx)})
}
