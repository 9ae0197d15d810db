package upload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// LoadManifest reads an upload's manifest and its KV revision; a missing
// upload (or one of another user, when userID is set) is
// ReasonUnknownUpload.
func LoadManifest(ctx context.Context, kv jetstream.KeyValue, uploadID, userID string) (*syv1.UploadManifest, uint64, error) {
	if !ValidID(uploadID) {
		return nil, 0, Errorf(ReasonUnknownUpload, "no upload %q", uploadID)
	}
	e, err := kv.Get(ctx, ManifestKey(uploadID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, Errorf(ReasonUnknownUpload, "no upload %q", uploadID)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("upload: read manifest %s: %w", uploadID, err)
	}
	m := &syv1.UploadManifest{}
	if err := proto.Unmarshal(e.Value(), m); err != nil {
		return nil, 0, fmt.Errorf("upload: decode manifest %s: %w", uploadID, err)
	}
	if userID != "" && m.GetOwnerUserId() != userID {
		return nil, 0, Errorf(ReasonUnknownUpload, "no upload %q", uploadID)
	}
	return m, e.Revision(), nil
}

// FileIndex finds a declared file path in a manifest.
func FileIndex(m *syv1.UploadManifest, filePath string) (int, error) {
	for i, f := range m.GetFiles() {
		if f.GetPath() == filePath {
			return i, nil
		}
	}
	if c, err := CleanPath(filePath); err == nil && c != filePath {
		return FileIndex(m, c)
	}
	return 0, Errorf(ReasonUnknownFile, "upload %s declares no file %q", m.GetUploadId(), filePath)
}

// NewToken returns a fresh download token and its digest (the grant key
// holds the digest only).
func NewToken() (token, digest string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, TokenDigest(token)
}

// TokenDigest is the hex sha256 of a token.
func TokenDigest(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}
