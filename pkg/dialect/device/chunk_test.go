package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// rawFrame builds a binary frame from a literal header, for bad cases the
// encoder would never produce.
func rawFrame(header string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(header)))
	return append(append(b, header...), data...)
}

func TestChunkDocumentHeader(t *testing.T) {
	data := []byte("hello chunk")
	sum := Checksum(data)
	// The document's header, with a real digest in place of "sha256...".
	header := `{
  "id": "msg-id",
  "uploadId": "upload-abc123",
  "filePath": "data/game.pak",
  "offset": 0,
  "checksum": "` + sum + `"
}`
	c, err := DecodeChunk(rawFrame(header, data), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := ChunkHeader{ID: "msg-id", UploadID: "upload-abc123", FilePath: "data/game.pak", Offset: 0, Checksum: sum}
	if c.Header != want || !bytes.Equal(c.Data, data) || c.End() != int64(len(data)) {
		t.Fatalf("chunk = %+v %q", c.Header, c.Data)
	}
	if d, err := c.Verify(); err != nil || d != sum {
		t.Fatalf("verify = %s %v", d, err)
	}
	// The encoder produces what the decoder reads.
	enc, encErr := EncodeChunk(want, data)
	if encErr != nil {
		t.Fatal(encErr)
	}
	back, err := DecodeChunk(enc, 0)
	if err != nil || back.Header != want || !bytes.Equal(back.Data, data) {
		t.Fatalf("round trip = %+v %v", back, err)
	}
	if n := binary.BigEndian.Uint32(enc); int(n) != len(enc)-4-len(data) {
		t.Fatalf("header length %d", n)
	}
}

func TestChunkWithoutChecksum(t *testing.T) {
	// Real controllers send no checksum: accepted, nothing to verify, the
	// digest is still computed for the hub to record.
	data := bytes.Repeat([]byte{7}, ChunkSize)
	c, err := DecodeChunk(rawFrame(`{"id":"1","uploadId":"u","filePath":"a\\b.bin","offset":1048576}`, data), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Header.Checksum != "" || c.Header.FilePath != "a/b.bin" || c.Header.Offset != 1<<20 {
		t.Fatalf("header = %+v", c.Header)
	}
	if d, err := c.Verify(); err != nil || d != Checksum(data) {
		t.Fatalf("verify = %s %v", d, err)
	}
	// An empty chunk (an empty file) is a chunk too; an upper-case,
	// prefixed checksum is normalised.
	c, err = DecodeChunk(rawFrame(`{"id":"2","uploadId":"u","filePath":"e","offset":0,"checksum":"sha256:`+strings.ToUpper(Checksum(nil))+`"}`, nil), 0)
	if err != nil || len(c.Data) != 0 || c.Header.Checksum != Checksum(nil) {
		t.Fatalf("empty chunk = %+v %v", c, err)
	}
}

func TestChunkErrors(t *testing.T) {
	data := []byte("abc")
	long := make([]byte, 4)
	binary.BigEndian.PutUint32(long, 100)
	huge := binary.BigEndian.AppendUint32(nil, MaxChunkHeaderBytes+1)
	huge = append(huge, make([]byte, MaxChunkHeaderBytes+10)...)
	cases := []struct {
		name  string
		frame []byte
		max   int
		want  error
		id    string
	}{
		{"empty", nil, 0, ErrChunkShort, ""},
		{"three bytes", []byte{0, 0, 1}, 0, ErrChunkShort, ""},
		{"zero header", []byte{0, 0, 0, 0, 'x'}, 0, ErrChunkHeaderLen, ""},
		{"header exceeds frame", append(long, `{"id":"1"}`...), 0, ErrChunkHeaderLen, ""},
		{"header over limit", huge, 0, ErrChunkHeaderLen, ""},
		{"header not json", rawFrame(`not json`, data), 0, ErrChunkHeaderJSON, ""},
		{"header array", rawFrame(`[1,2]`, data), 0, ErrChunkHeaderJSON, ""},
		{"header cut", rawFrame(`{"id":"x","uploadId":`, data), 0, ErrChunkHeaderJSON, ""},
		{"header wrong type", rawFrame(`{"id":"x","uploadId":5,"filePath":"a","offset":0}`, data), 0, ErrChunkHeaderJSON, "x"},
		{"no uploadId", rawFrame(`{"id":"x","filePath":"a","offset":0}`, data), 0, ErrChunkField, "x"},
		{"no filePath", rawFrame(`{"id":"x","uploadId":"u","offset":0}`, data), 0, ErrChunkField, "x"},
		{"no offset", rawFrame(`{"id":"x","uploadId":"u","filePath":"a"}`, data), 0, ErrChunkField, "x"},
		{"fraction offset", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":1.5}`, data), 0, ErrChunkField, "x"},
		{"string offset", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":"0"}`, data), 0, ErrChunkField, "x"},
		{"negative offset", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":-1}`, data), 0, ErrChunkOffset, "x"},
		{"overflowing offset", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":9223372036854775807}`, data), 0, ErrChunkOffset, "x"},
		{"traversal", rawFrame(`{"id":"x","uploadId":"u","filePath":"../a","offset":0}`, data), 0, ErrBadPath, "x"},
		{"bad checksum", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":0,"checksum":"sha256..."}`, data), 0, ErrChunkChecksum, "x"},
		{"over limit", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":0}`, data), 2, ErrChunkTooLarge, "x"},
		{"over default limit", rawFrame(`{"id":"x","uploadId":"u","filePath":"a","offset":0}`, make([]byte, ChunkSize+1)), 0, ErrChunkTooLarge, "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeChunk(c.frame, c.max)
			if err == nil {
				t.Fatalf("accepted: %+v", got.Header)
			}
			if err.Code != CodeBadRequest || !errors.Is(err, c.want) || err.ID != c.id {
				t.Fatalf("err = %v (id %q, sentinel %v), want %v id %q", err, err.ID, err.Err, c.want, c.id)
			}
		})
	}
}

func TestChunkChecksumMismatch(t *testing.T) {
	c, err := DecodeChunk(rawFrame(`{"id":"m","uploadId":"u","filePath":"a","offset":0,"checksum":"`+Checksum([]byte("other"))+`"}`, []byte("abc")), 0)
	if err != nil {
		t.Fatal(err)
	}
	d, verr := c.Verify()
	if verr == nil || !errors.Is(verr, ErrChecksumMismatch) || verr.Code != CodeBadRequest || verr.ID != "m" || d != Checksum([]byte("abc")) {
		t.Fatalf("verify = %s %v", d, verr)
	}
}
