package uploads

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// headerSHA256 carries a stored chunk's hex sha256.
const headerSHA256 = "Sy-Sha256"

// casAttempts bounds compare-and-set retries on one record.
const casAttempts = 64

// putChunk verifies and stores one chunk, then records its range.
func (s *Service) putChunk(ctx context.Context, data []byte) (proto.Message, error) {
	req := &syv1.UploadChunkRequest{}
	reply, err := func() (*syv1.UploadChunkReply, error) {
		if err := decode(data, req); err != nil {
			return nil, err
		}
		return s.storeChunk(ctx, req)
	}()
	if err != nil {
		return &syv1.UploadChunkReply{Error: upload.ToProto(err)}, err
	}
	return reply, nil
}

func (s *Service) storeChunk(ctx context.Context, req *syv1.UploadChunkRequest) (*syv1.UploadChunkReply, error) {
	m, _, err := s.activeManifest(ctx, req.GetUploadId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	idx, err := upload.FileIndex(m, req.GetFilePath())
	if err != nil {
		return nil, err
	}
	sum, err := s.checkChunk(m.GetFiles()[idx], req)
	if err != nil {
		return nil, err
	}
	id, off, n := m.GetUploadId(), req.GetOffset(), int64(len(req.GetData()))
	reply := &syv1.UploadChunkReply{BytesWritten: n, Sha256: sum}
	if n > 0 {
		if reply.Duplicate, err = s.publishChunk(ctx, id, idx, off, req.GetData(), sum); err != nil {
			return nil, err
		}
		if s.afterStore != nil {
			s.afterStore()
		}
	}
	prog, delta, first, err := s.recordRange(ctx, id, idx, off, req.GetData())
	if err != nil {
		return nil, err
	}
	if reply.TotalWritten, err = s.addTotal(ctx, id, delta); err != nil {
		return nil, err
	}
	if err := s.stillActive(ctx, id, idx, off, n, reply.Duplicate); err != nil {
		return nil, err
	}
	if !reply.Duplicate {
		s.m.bytes.Add(float64(n))
	}
	if first {
		s.fileState(m, idx, m.GetFiles()[idx].GetPath(), syv1.FileState_FILE_STATE_UPLOADING)
	}
	s.events.Progress(s.progress(m, idx, prog, upload.StatusInProgress))
	return reply, nil
}

// checkChunk applies the limits and returns the chunk's hex sha256.
func (s *Service) checkChunk(f *syv1.UploadFile, req *syv1.UploadChunkRequest) (string, error) {
	n := int64(len(req.GetData()))
	switch {
	case n > s.maxChunk:
		return "", upload.Errorf(upload.ReasonChunkTooLarge, "chunk of %d bytes: at most %d (SY_UPLOAD_MAX_CHUNK and the NATS max payload %d)", n, s.maxChunk, s.bus.NC.MaxPayload())
	case req.GetOffset() < 0 || req.GetOffset() > f.GetSize() || n > f.GetSize()-req.GetOffset():
		return "", upload.Errorf(upload.ReasonOutOfRange, "bytes [%d, %d) are outside %q (%d bytes)", req.GetOffset(), req.GetOffset()+n, f.GetPath(), f.GetSize())
	}
	d := sha256.Sum256(req.GetData())
	sum := hex.EncodeToString(d[:])
	if c := req.GetChecksum(); c != "" && !checksumMatches(c, d[:]) {
		return "", upload.Errorf(upload.ReasonChecksumMismatch, "sha256 of the chunk is %s, the header says %s", sum, c)
	}
	return sum, nil
}

// checksumMatches compares a header checksum, hex (any case, optional
// "sha256:" prefix) or base64, with a digest.
func checksumMatches(c string, d []byte) bool {
	c = strings.TrimSpace(c)
	if len(c) > 7 && strings.EqualFold(c[:7], "sha256:") {
		c = c[7:]
	}
	if b, err := hex.DecodeString(c); err == nil {
		return string(b) == string(d)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(c); err == nil {
			return string(b) == string(d)
		}
	}
	return false
}

// publishChunk stores a chunk unless its subject already holds one: the
// same bytes again are a duplicate (acknowledged, nothing changes), other
// bytes are a conflict. Stored chunks never change, so an acknowledged
// chunk is never lost to a later write.
func (s *Service) publishChunk(ctx context.Context, id string, idx int, off int64, data []byte, sum string) (dup bool, err error) {
	subj := upload.ChunkSubject(id, idx, off, int64(len(data)))
	msg := nats.NewMsg(subj)
	msg.Data = data
	msg.Header.Set(headerSHA256, sum)
	_, err = s.bus.JS.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithExpectStream(bus.StreamUploads()))
	if err == nil {
		return false, nil
	}
	if !bus.IsWrongLastSequence(err) {
		return false, fmt.Errorf("uploads: store chunk %s: %w", subj, err)
	}
	old, gerr := s.stream.GetLastMsgForSubject(ctx, subj)
	if gerr != nil {
		return false, fmt.Errorf("uploads: read stored chunk %s: %w", subj, gerr)
	}
	if old.Header.Get(headerSHA256) != sum {
		return false, upload.Errorf(upload.ReasonChunkConflict, "other bytes (sha256 %s) are stored at offset %d, length %d", old.Header.Get(headerSHA256), off, len(data))
	}
	return true, nil
}

// recordRange merges the chunk into the file's stored ranges and, when the
// chunk continues the hashed prefix, advances the file's running sha256.
func (s *Service) recordRange(ctx context.Context, id string, idx int, off int64, data []byte) (*syv1.UploadFileProgress, int64, bool, error) {
	key := upload.FileKey(id, idx)
	for attempt := 0; attempt < casAttempts; attempt++ {
		p, rev, err := s.loadProgress(ctx, key)
		if err != nil {
			return nil, 0, false, err
		}
		first := rev == 0
		if first {
			p.StartedUnixMs = s.now().UnixMilli()
		}
		ranges, delta := upload.Ranges(p.GetRanges()).Add(off, off+int64(len(data)))
		hashed := advanceHash(p, off, data)
		if delta == 0 && !hashed && !first {
			return p, 0, false, nil
		}
		p.Ranges = ranges
		if err := s.saveProgress(ctx, key, p, rev); err == nil {
			return p, delta, first, nil
		} else if !isConflict(err) {
			return nil, 0, false, err
		}
	}
	return nil, 0, false, upload.Errorf(upload.ReasonUnavailable, "file record %s: too many concurrent writers", key)
}

func (s *Service) loadProgress(ctx context.Context, key string) (*syv1.UploadFileProgress, uint64, error) {
	p := &syv1.UploadFileProgress{}
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return p, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("uploads: read %s: %w", key, err)
	}
	if err := proto.Unmarshal(e.Value(), p); err != nil {
		return nil, 0, fmt.Errorf("uploads: decode %s: %w", key, err)
	}
	return p, e.Revision(), nil
}

func (s *Service) saveProgress(ctx context.Context, key string, p *syv1.UploadFileProgress, rev uint64) error {
	data, err := proto.Marshal(p)
	if err != nil {
		return fmt.Errorf("uploads: marshal %s: %w", key, err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, data)
	} else {
		_, err = s.kv.Update(ctx, key, data, rev)
	}
	return err
}

// advanceHash feeds the part of a chunk that continues the hashed prefix
// [0, p.Hashed) into the file's sha256. A chunk elsewhere leaves it (the
// rest is hashed from the stream on complete).
func advanceHash(p *syv1.UploadFileProgress, off int64, data []byte) bool {
	end := off + int64(len(data))
	if off > p.GetHashed() || end <= p.GetHashed() {
		return false
	}
	h, ok := restoreHash(p)
	if !ok {
		return false
	}
	_, _ = h.Write(data[p.GetHashed()-off:])
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return false
	}
	p.Hashed, p.HashState = end, state
	return true
}

// restoreHash is the running sha256 of p's hashed prefix.
func restoreHash(p *syv1.UploadFileProgress) (hashWriter, bool) {
	h := sha256.New()
	if p.GetHashed() == 0 {
		return h, true
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.GetHashState()); err != nil {
		return nil, false
	}
	return h, true
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// addTotal adds delta to the upload's stored-bytes total and returns it.
func (s *Service) addTotal(ctx context.Context, id string, delta int64) (int64, error) {
	key := upload.TotalKey(id)
	for attempt := 0; attempt < casAttempts; attempt++ {
		t := &syv1.UploadTotal{}
		var rev uint64
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("uploads: read %s: %w", key, err)
		default:
			if err := proto.Unmarshal(e.Value(), t); err != nil {
				return 0, fmt.Errorf("uploads: decode %s: %w", key, err)
			}
			rev = e.Revision()
		}
		if delta == 0 {
			return t.GetWritten(), nil
		}
		t.Written += delta
		data, _ := proto.Marshal(t)
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, data)
		} else {
			_, err = s.kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return t.GetWritten(), nil
		}
		if !isConflict(err) {
			return 0, fmt.Errorf("uploads: write %s: %w", key, err)
		}
	}
	return 0, upload.Errorf(upload.ReasonUnavailable, "total %s: too many concurrent writers", key)
}

// stillActive checks, after the chunk is stored, that no cancel or
// complete ran meanwhile; if one did, a chunk this call created is removed
// again (a cancel that read the chunk list earlier could have missed it).
func (s *Service) stillActive(ctx context.Context, id string, idx int, off, n int64, dup bool) error {
	_, _, err := s.activeManifest(ctx, id, "")
	if err == nil || (!upload.IsReason(err, upload.ReasonUnknownUpload) && !upload.IsReason(err, upload.ReasonNotActive)) {
		return err
	}
	if n > 0 && !dup {
		if perr := s.stream.Purge(ctx, jetstream.WithPurgeSubject(upload.ChunkSubject(id, idx, off, n))); perr != nil {
			s.log.Warn("chunk of a finished upload not removed", "upload", id, "err", perr)
		}
	}
	if upload.IsReason(err, upload.ReasonUnknownUpload) {
		_ = s.kv.Purge(ctx, upload.FileKey(id, idx))
		_ = s.kv.Purge(ctx, upload.TotalKey(id))
	}
	return err
}
