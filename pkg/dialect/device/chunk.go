package device

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ChunkHeader is the JSON header of a binary chunk frame. Checksum is the
// lowercase hex SHA-256 of the chunk's bytes, or "" when the controller
// sent none (real controllers omit it).
type ChunkHeader struct {
	ID       string `json:"id"`
	UploadID string `json:"uploadId"`
	FilePath string `json:"filePath"`
	Offset   int64  `json:"offset"`
	Checksum string `json:"checksum,omitempty"`
}

// Chunk is a decoded binary frame. Data aliases the frame's bytes.
type Chunk struct {
	Header ChunkHeader
	Data   []byte
}

// End is the offset just past the chunk.
func (c *Chunk) End() int64 { return c.Header.Offset + int64(len(c.Data)) }

// Chunk decode failures; each is answered with 400 (CodeBadRequest).
var (
	ErrChunkShort       = errors.New("binary frame is shorter than its 4-byte header length")
	ErrChunkHeaderLen   = errors.New("chunk header length exceeds the frame (or the header limit)")
	ErrChunkHeaderJSON  = errors.New("chunk header is not a JSON object")
	ErrChunkField       = errors.New("chunk header misses uploadId, filePath or offset")
	ErrChunkOffset      = errors.New("chunk offset is negative")
	ErrChunkTooLarge    = errors.New("chunk is larger than the chunk limit")
	ErrChunkChecksum    = errors.New("chunk checksum is not a hex SHA-256")
	ErrChecksumMismatch = errors.New("chunk bytes do not match their checksum")
)

// chunkHeaderJSON detects absent fields.
type chunkHeaderJSON struct {
	ID       *string          `json:"id"`
	UploadID *string          `json:"uploadId"`
	FilePath *string          `json:"filePath"`
	Offset   *json.RawMessage `json:"offset"`
	Checksum *string          `json:"checksum"`
}

// DecodeChunk parses a binary frame: a 4-byte big-endian header length,
// that many bytes of JSON header, then the chunk's bytes (possibly none).
// maxData bounds the bytes (0: ChunkSize). The header's id, when it could
// be read, is on the returned *Error, for the error reply. The checksum is
// normalised (an optional "sha256:" prefix dropped, lowercase) but not
// verified: call Verify.
func DecodeChunk(frame []byte, maxData int) (*Chunk, *Error) {
	if maxData <= 0 {
		maxData = ChunkSize
	}
	if len(frame) < ChunkHeaderLenBytes {
		return nil, badRequest(ErrChunkShort, "binary frame of %d bytes has no 4-byte header length", len(frame))
	}
	n := binary.BigEndian.Uint32(frame)
	rest := frame[ChunkHeaderLenBytes:]
	if n == 0 || uint64(n) > uint64(len(rest)) || n > MaxChunkHeaderBytes {
		return nil, badRequest(ErrChunkHeaderLen, "chunk header length %d exceeds the frame's %d bytes (limit %d)", n, len(rest), MaxChunkHeaderBytes)
	}
	h, err := parseChunkHeader(rest[:n])
	if err != nil {
		return nil, err
	}
	c := &Chunk{Header: *h, Data: rest[n:]}
	if len(c.Data) > maxData {
		return nil, withID(badRequest(ErrChunkTooLarge, "chunk of %d bytes is over the %d byte limit", len(c.Data), maxData), h)
	}
	if c.Header.Offset > math.MaxInt64-int64(len(c.Data)) {
		return nil, withID(badRequest(ErrChunkOffset, "chunk offset %d overflows", c.Header.Offset), h)
	}
	return c, nil
}

func withID(e *Error, h *ChunkHeader) *Error {
	e.ID = h.ID
	return e
}

func parseChunkHeader(raw []byte) (*ChunkHeader, *Error) {
	if !isObject(raw) {
		return nil, badRequest(ErrChunkHeaderJSON, "chunk header is not a JSON object")
	}
	var j chunkHeaderJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		e := badRequest(ErrChunkHeaderJSON, "chunk header: %v", err)
		e.ID, _ = peekIDType(raw)
		return nil, e
	}
	h := &ChunkHeader{}
	if j.ID != nil {
		h.ID = *j.ID
	}
	if j.UploadID == nil || *j.UploadID == "" || j.FilePath == nil || *j.FilePath == "" || j.Offset == nil {
		return nil, withID(badRequest(ErrChunkField, "chunk header needs uploadId, filePath and offset"), h)
	}
	h.UploadID, h.FilePath = *j.UploadID, *j.FilePath
	if err := parseOffset(*j.Offset, h); err != nil {
		return nil, withID(err, h)
	}
	p, err := CleanPath(h.FilePath)
	if err != nil {
		return nil, withID(badRequest(ErrBadPath, "chunk filePath %q: %v", h.FilePath, err), h)
	}
	h.FilePath = p
	if j.Checksum != nil && *j.Checksum != "" {
		sum, ok := normalChecksum(*j.Checksum)
		if !ok {
			return nil, withID(badRequest(ErrChunkChecksum, "chunk checksum %q is not 64 hex digits of SHA-256", *j.Checksum), h)
		}
		h.Checksum = sum
	}
	return h, nil
}

func parseOffset(raw json.RawMessage, h *ChunkHeader) *Error {
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, "-") {
		return badRequest(ErrChunkOffset, "chunk offset %s is negative", t)
	}
	if err := json.Unmarshal(raw, &h.Offset); err != nil {
		return badRequest(ErrChunkField, "chunk offset %s is not an integer", t)
	}
	return nil
}

func normalChecksum(s string) (string, bool) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "sha256:"), "SHA256:"))
	if len(s) != 2*sha256.Size {
		return "", false
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return s, true
}

// Digest is the lowercase hex SHA-256 of the chunk's bytes.
func (c *Chunk) Digest() string {
	sum := sha256.Sum256(c.Data)
	return hex.EncodeToString(sum[:])
}

// Verify checks the bytes against the header's checksum (none: nothing
// to check) and returns the digest, computed once either way.
func (c *Chunk) Verify() (string, *Error) {
	d := c.Digest()
	if c.Header.Checksum != "" && c.Header.Checksum != d {
		return d, &Error{Code: CodeBadRequest, ID: c.Header.ID, Err: ErrChecksumMismatch,
			Message: fmt.Sprintf("chunk %s@%d: sha256 is %s, header says %s", c.Header.FilePath, c.Header.Offset, d, c.Header.Checksum)}
	}
	return d, nil
}

// EncodeChunk builds a binary frame from a header and the chunk's bytes.
func EncodeChunk(h ChunkHeader, data []byte) ([]byte, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("device: encode chunk header: %w", err)
	}
	if len(hb) > MaxChunkHeaderBytes {
		return nil, fmt.Errorf("device: chunk header of %d bytes is over %d", len(hb), MaxChunkHeaderBytes)
	}
	var buf bytes.Buffer
	buf.Grow(ChunkHeaderLenBytes + len(hb) + len(data))
	var n [ChunkHeaderLenBytes]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(hb)))
	buf.Write(n[:])
	buf.Write(hb)
	buf.Write(data)
	return buf.Bytes(), nil
}

// Checksum is the hex SHA-256 of b, as a chunk header carries it.
func Checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
