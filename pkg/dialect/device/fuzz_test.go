package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

var sentinels = []error{
	ErrNotJSON, ErrNoType, ErrBadPayload, ErrMissingField, ErrBadPath,
	ErrChunkShort, ErrChunkHeaderLen, ErrChunkHeaderJSON, ErrChunkField,
	ErrChunkOffset, ErrChunkTooLarge, ErrChunkChecksum,
}

func checkError(t *testing.T, e *Error) {
	t.Helper()
	if e.Code != CodeBadRequest || e.Message == "" {
		t.Fatalf("error %+v: code must be 400 with a message", e)
	}
	found := false
	for _, s := range sentinels {
		found = found || errors.Is(e, s)
	}
	if !found {
		t.Fatalf("error %v has no sentinel", e)
	}
	var m Message
	if err := json.Unmarshal(ErrorFor(e), &m); err != nil || m.Type != TypeError || m.Error == nil || m.Error.Code != e.Code || m.ID != e.ID {
		t.Fatalf("error reply %s does not decode (%v)", ErrorFor(e), err)
	}
}

// FuzzDecode: Decode never panics and returns exactly one of a frame and
// an error; errors are 400 with a sentinel and render as a valid error
// reply; a typed body re-encodes into a frame that decodes to the same
// body (what the hub relays is what it read).
func FuzzDecode(f *testing.F) {
	for _, ex := range documentExamples {
		f.Add([]byte(`{"id":"msg-1","type":"` + ex.typ + `","payload":` + ex.payload + `}`))
	}
	for _, s := range []string{`{"type":"ping"}`, `{"id":"x","type":"delete_game","payload":{"appId":1}}`,
		`{"id":"a","type":5}`, `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"a\\..\\b","size":1}]}}`,
		`{"type":"list_shortcuts","payload":{"userId":"76561198012345678"}}`, `null`, `[]`, ``, `{"type":"error","error":{"code":401,"message":"x"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if (fr == nil) == (err == nil) {
			t.Fatalf("Decode returned frame %v and error %v", fr, err)
		}
		if err != nil {
			checkError(t, err)
			return
		}
		if fr.Type == "" || fr.Known != IsKnown(fr.Type) {
			t.Fatalf("frame %+v", fr)
		}
		if fr.Body == nil {
			return
		}
		out, encErr := Encode(fr.ID, fr.Type, fr.Body)
		if encErr != nil {
			t.Fatalf("encode %T: %v", fr.Body, encErr)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", out, err)
		}
		if again.ID != fr.ID || again.Type != fr.Type || !reflect.DeepEqual(again.Body, fr.Body) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v\n%s", fr.Body, again.Body, out)
		}
	})
}

// FuzzDecodeChunk: DecodeChunk never panics; an accepted chunk has a
// non-negative offset, bytes within the limit, a clean path and a
// normalised checksum, and EncodeChunk of it decodes to the same chunk.
func FuzzDecodeChunk(f *testing.F) {
	ok, _ := EncodeChunk(ChunkHeader{ID: "msg-id", UploadID: "upload-abc123", FilePath: "data/game.pak", Offset: 0, Checksum: Checksum([]byte("abc"))}, []byte("abc"))
	f.Add(ok, 8)
	f.Add(rawFrame(`{"id":"1","uploadId":"u","filePath":"a\\b","offset":5}`, []byte("xyz")), 0)
	f.Add(rawFrame(`{"id":"1","uploadId":"u","filePath":"a","offset":-1}`, nil), 0)
	f.Add(rawFrame(`{"uploadId":"u","filePath":"../a","offset":0,"checksum":"sha256..."}`, nil), 0)
	f.Add([]byte{0, 0, 0, 200, '{'}, 0)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, frame []byte, max int) {
		max %= 1 << 16
		c, err := DecodeChunk(frame, max)
		if (c == nil) == (err == nil) {
			t.Fatalf("DecodeChunk returned chunk %v and error %v", c, err)
		}
		if err != nil {
			checkError(t, err)
			return
		}
		limit := max
		if limit <= 0 {
			limit = ChunkSize
		}
		h := c.Header
		if h.Offset < 0 || len(c.Data) > limit || h.UploadID == "" || h.FilePath == "" || c.End() < h.Offset {
			t.Fatalf("accepted chunk %+v with %d bytes", h, len(c.Data))
		}
		if p, perr := CleanPath(h.FilePath); perr != nil || p != h.FilePath {
			t.Fatalf("path %q not clean", h.FilePath)
		}
		if h.Checksum != "" {
			if n, ok := normalChecksum(h.Checksum); !ok || n != h.Checksum {
				t.Fatalf("checksum %q not normalised", h.Checksum)
			}
		}
		enc, encErr := EncodeChunk(h, c.Data)
		if encErr != nil {
			return // a header that grew past the limit when re-escaped
		}
		back, err := DecodeChunk(enc, max)
		if err != nil || back.Header != h || !bytes.Equal(back.Data, c.Data) {
			t.Fatalf("re-encoded chunk differs: %+v %v", back, err)
		}
	})
}
