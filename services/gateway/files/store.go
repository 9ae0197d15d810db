package files

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// Store keeps a user's file for a session the way POST /files does (object
// store sy_files, origin "upload", the same metadata) and returns its
// metadata: what a file.upload envelope carries (the runtime's gateway
// loads the bytes when it writes the frame). The caller has checked that
// user may write to session. Chat attachments use it.
func Store(ctx context.Context, s *edge.Server, session, user, name, mimeType string, data []byte) (*syv1.FileMetadata, error) {
	obs, err := openFiles(ctx, s)
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	name = fileName(name, "file")
	mimeType = fileMime(mimeType, data)
	info, err := obs.Put(ctx, fileObjectMeta(id, session, name, mimeType, fileOriginUpload, fileMetaUser, user), bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("store file: %w", err)
	}
	return &syv1.FileMetadata{FileId: id, Name: name, MimeType: mimeType, Size: int64(info.Size)}, nil
}

// Remove deletes a file Store kept (a message whose later step failed).
func Remove(ctx context.Context, s *edge.Server, id string) error {
	obs, err := openFiles(ctx, s)
	if err != nil {
		return err
	}
	if err := obs.Delete(ctx, id); err != nil && err != jetstream.ErrObjectNotFound {
		return err
	}
	return nil
}
