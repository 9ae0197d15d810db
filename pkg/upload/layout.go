// Package upload is the client side of the upload service
// (services/upload) and the layout of upload storage in NATS, shared by the
// service and its clients: the gateway calls Client for the device
// dialect's init/chunk/status/complete/cancel, reads stored files with
// Open (a streaming io.ReadSeeker straight from JetStream), and mounts
// Handler for the device's download. docs/architecture.md ("Uploads") has
// the subjects, keys and the path of a chunk.
package upload

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

const (
	// DefaultChunkSize is what init answers when configuration says nothing
	// (the device document's 1 MB).
	DefaultChunkSize = 1 << 20
	// PayloadOverhead is what a chunk request or stream message carries
	// besides the chunk's bytes (protobuf fields, headers, subject); a
	// chunk must fit the NATS max payload with this much to spare.
	PayloadOverhead = 16 << 10

	idPrefix     = "upload-"
	fileIDInfix  = "-f"
	keyManifest  = "m."
	keyFile      = "f."
	keyTotal     = "n."
	keyGrant     = "k."
	maxPathBytes = 4096
)

// NewID returns a fresh upload id ("upload-" and 32 hex digits).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return idPrefix + hex.EncodeToString(b[:])
}

// ValidID reports whether id can be an upload id (a NATS subject token
// and KV key part).
func ValidID(id string) bool { return strings.HasPrefix(id, idPrefix) && bus.ValidToken(id) }

// FileID is the id of file index of an upload, for GET /files/{id} and as
// the TransferId of its upload: "<upload id>-f<index>".
func FileID(uploadID string, index int) string {
	return uploadID + fileIDInfix + strconv.Itoa(index)
}

// ParseFileID splits a FileID; ok is false for any other id (such as the
// ids of sy_files objects).
func ParseFileID(id string) (uploadID string, index int, ok bool) {
	i := strings.LastIndex(id, fileIDInfix)
	if i < 0 {
		return "", 0, false
	}
	uploadID = id[:i]
	n, err := strconv.Atoi(id[i+len(fileIDInfix):])
	if err != nil || n < 0 || !ValidID(uploadID) || FileID(uploadID, n) != id {
		return "", 0, false
	}
	return uploadID, n, true
}

// CleanPath checks a declared relative file path: non-empty, relative,
// no "..", no NUL, at most 4096 bytes; backslashes are taken as
// separators (Windows controllers). It returns the cleaned form.
func CleanPath(p string) (string, error) {
	if p == "" || len(p) > maxPathBytes || strings.ContainsRune(p, 0) {
		return "", Errorf(ReasonBadRequest, "file path %q: empty, too long or contains NUL", p)
	}
	p = strings.ReplaceAll(p, `\`, "/")
	c := path.Clean(p)
	if path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") || (len(c) > 1 && c[1] == ':') {
		return "", Errorf(ReasonBadRequest, "file path %q must be relative and stay inside the upload", p)
	}
	return c, nil
}

// ChunkSubject is the stream subject of a stored chunk.
func ChunkSubject(uploadID string, index int, offset, length int64) string {
	return fmt.Sprintf("%s%s.%d.%d.%d", bus.PrefixUploadChunks(), uploadID, index, offset, length)
}

// ChunkFilter matches every chunk of a file (index >= 0) or of the whole
// upload (index < 0).
func ChunkFilter(uploadID string, index int) string {
	if index < 0 {
		return bus.PrefixUploadChunks() + uploadID + ".>"
	}
	return fmt.Sprintf("%s%s.%d.>", bus.PrefixUploadChunks(), uploadID, index)
}

// parseChunkSubject returns the offset and length of a chunk subject.
func parseChunkSubject(subj string) (offset, length int64, ok bool) {
	rest, found := strings.CutPrefix(subj, bus.PrefixUploadChunks())
	if !found {
		return 0, 0, false
	}
	parts := strings.Split(rest, ".") // <upload>.<file index>.<offset>.<length>
	if len(parts) != 4 {
		return 0, 0, false
	}
	o, err1 := strconv.ParseInt(parts[2], 10, 64)
	l, err2 := strconv.ParseInt(parts[3], 10, 64)
	return o, l, err1 == nil && err2 == nil && o >= 0 && l >= 0
}

// Keys of the sy_uploads bucket.

// ManifestKey is the key of an upload's manifest.
func ManifestKey(uploadID string) string { return keyManifest + uploadID }

// FileKey is the key of a file's stored ranges.
func FileKey(uploadID string, index int) string {
	return keyFile + uploadID + "." + strconv.Itoa(index)
}

// FileKeyFilter matches the file keys of an upload.
func FileKeyFilter(uploadID string) string { return keyFile + uploadID + ".>" }

// TotalKey is the key of an upload's stored-bytes total.
func TotalKey(uploadID string) string { return keyTotal + uploadID }

// GrantKey is the key of a download token of an upload (by the token's
// sha256): k.<upload>.<digest>, so a cancel removes an upload's grants
// with its other keys.
func GrantKey(uploadID, tokenDigest string) string { return keyGrant + uploadID + "." + tokenDigest }

// UploadKeyFilters match every key of an upload but its manifest.
func UploadKeyFilters(uploadID string) []string {
	return []string{keyFile + uploadID + ".>", keyGrant + uploadID + ".>", keyTotal + uploadID}
}
