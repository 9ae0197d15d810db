package uploads

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// The document's example: two files, one small and one over several chunks.
func exampleInit(files map[string][]byte, order []string) upload.InitRequest {
	r := upload.InitRequest{OwnerUserID: "alice", DeviceID: "deck-1", HubID: "hub-abc123",
		Config: json.RawMessage(`{"gameName":"Celeste","installPath":"/home/deck/Games","executable":"Celeste.exe"}`)}
	for _, p := range order {
		r.Files = append(r.Files, upload.FileSpec{Path: p, Size: int64(len(files[p]))})
		r.TotalSize += int64(len(files[p]))
	}
	return r
}

func TestUploadLifecycle(t *testing.T) {
	_, _, c := setup(t)
	files := map[string][]byte{"Celeste.exe": testData(12345, 1), "data/game.pak": testData(2*mib+777, 2), "empty.txt": {}}
	order := []string{"Celeste.exe", "data/game.pak", "empty.txt"}
	init, err := c.Init(ctxT(t), exampleInit(files, order))
	if err != nil {
		t.Fatal(err)
	}
	if init.ChunkSize != mib || !upload.ValidID(init.UploadID) {
		t.Fatalf("init = %+v, want a valid id and chunkSize 1048576", init)
	}
	r := putAll(t, c, init.UploadID, "Celeste.exe", files["Celeste.exe"], mib, true)
	if r.BytesWritten != 12345 || r.TotalWritten != 12345 || r.SHA256 != sha(files["Celeste.exe"]) {
		t.Fatalf("chunk result %+v", r)
	}
	// Without checksums: the service computes and records them.
	r = putAll(t, c, init.UploadID, "data/game.pak", files["data/game.pak"], mib, false)
	if want := int64(12345 + 2*mib + 777); r.TotalWritten != want || r.BytesWritten != 777 {
		t.Fatalf("last chunk %+v, want totalWritten %d, bytesWritten 777", r, want)
	}
	st, err := c.Status(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != syv1.UploadState_UPLOAD_STATE_ACTIVE || st.TotalWritten != st.TotalSize || len(st.Files) != 3 {
		t.Fatalf("status %+v", st)
	}
	for _, f := range st.Files {
		if f.Stored != f.Size || (f.Size > 0 && (len(f.Ranges) != 1 || f.Ranges[0] != upload.Range{Start: 0, End: f.Size})) {
			t.Fatalf("file status %+v", f)
		}
	}
	done, err := c.Complete(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if done.DownloadToken == "" || done.TokenExpires.IsZero() || len(done.Files) != 3 {
		t.Fatalf("complete %+v", done)
	}
	for _, f := range done.Files {
		if f.SHA256 != sha(files[f.Path]) || f.Size != int64(len(files[f.Path])) {
			t.Fatalf("%s: sha256 %s size %d, want %s %d", f.Path, f.SHA256, f.Size, sha(files[f.Path]), len(files[f.Path]))
		}
		if got := readAll(t, c, init.UploadID, f.Path); !bytes.Equal(got, files[f.Path]) {
			t.Fatalf("%s read back %d bytes, differ from the %d sent", f.Path, len(got), len(files[f.Path]))
		}
		fi, err := c.Stat(ctxT(t), f.FileID)
		if err != nil || fi.Path != f.Path || fi.OwnerUserID != "alice" || fi.DeviceID != "deck-1" || fi.SHA256 != f.SHA256 {
			t.Fatalf("stat %s = %+v, %v", f.FileID, fi, err)
		}
	}
	// Completing again answers the same files with a fresh token.
	again, err := c.Complete(ctxT(t), init.UploadID, "alice")
	if err != nil || again.DownloadToken == done.DownloadToken || again.Files[1].SHA256 != done.Files[1].SHA256 {
		t.Fatalf("second complete %+v, %v", again, err)
	}
	if err := c.Cancel(ctxT(t), init.UploadID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctxT(t), init.UploadID, ""); !upload.IsReason(err, upload.ReasonUnknownUpload) {
		t.Fatalf("status after cancel: %v, want unknown_upload", err)
	}
}

func TestDuplicateAndOutOfOrderChunks(t *testing.T) {
	_, _, c := setup(t)
	data := testData(5*mib+10, 3)
	init, err := c.Init(ctxT(t), upload.InitRequest{OwnerUserID: "u", TotalSize: int64(len(data)), Files: []upload.FileSpec{{Path: "a.bin", Size: int64(len(data))}}})
	if err != nil {
		t.Fatal(err)
	}
	// Chunks 5, 3, 1, 0 (twice), 4, 2, in odd sizes and with an overlap.
	type piece struct{ off, n int }
	pieces := []piece{{5 * mib, 10}, {3 * mib, mib}, {mib, mib}, {0, mib}, {0, mib}, {4 * mib, mib}, {2 * mib, mib}, {2*mib + 100, 500}}
	var total int64
	for i, p := range pieces {
		r, err := c.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: "a.bin", Offset: int64(p.off), Data: data[p.off : p.off+p.n]})
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		wantDup := i == 4
		if r.Duplicate != wantDup {
			t.Fatalf("piece %d duplicate=%v, want %v", i, r.Duplicate, wantDup)
		}
		if r.TotalWritten < total {
			t.Fatalf("totalWritten went down: %d after %d", r.TotalWritten, total)
		}
		total = r.TotalWritten
	}
	if total != int64(len(data)) {
		t.Fatalf("totalWritten %d, want %d (overlaps counted once)", total, len(data))
	}
	done, err := c.Complete(ctxT(t), init.UploadID, "u")
	if err != nil {
		t.Fatal(err)
	}
	if done.Files[0].SHA256 != sha(data) {
		t.Fatal("sha256 of an out-of-order upload is wrong")
	}
	if got := readAll(t, c, init.UploadID, "a.bin"); !bytes.Equal(got, data) {
		t.Fatal("out-of-order upload read back differently")
	}
}

func TestBadInput(t *testing.T) {
	_, s, c := setup(t, func(c *Config) { c.MaxChunk = 2 * mib })
	data := testData(3*mib, 4)
	init, err := c.Init(ctxT(t), upload.InitRequest{OwnerUserID: "alice", TotalSize: int64(len(data)) + 10,
		Files: []upload.FileSpec{{Path: "f.bin", Size: int64(len(data))}, {Path: "small.txt", Size: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	id := init.UploadID
	if _, err := c.PutChunk(ctxT(t), upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: 0, Data: data[:mib]}); err != nil {
		t.Fatal(err)
	}
	initCases := []struct {
		name   string
		req    upload.InitRequest
		reason string
	}{
		{"no files", upload.InitRequest{TotalSize: 0}, upload.ReasonBadRequest},
		{"over totalSize", upload.InitRequest{TotalSize: 5, Files: []upload.FileSpec{{Path: "a", Size: 3}, {Path: "b", Size: 3}}}, upload.ReasonOverTotal},
		{"duplicate path", upload.InitRequest{TotalSize: 2, Files: []upload.FileSpec{{Path: "a", Size: 1}, {Path: "./a", Size: 1}}}, upload.ReasonBadRequest},
		{"escaping path", upload.InitRequest{TotalSize: 1, Files: []upload.FileSpec{{Path: "../etc/passwd", Size: 1}}}, upload.ReasonBadRequest},
		{"absolute path", upload.InitRequest{TotalSize: 1, Files: []upload.FileSpec{{Path: "/etc/passwd", Size: 1}}}, upload.ReasonBadRequest},
		{"negative size", upload.InitRequest{TotalSize: 1, Files: []upload.FileSpec{{Path: "a", Size: -1}}}, upload.ReasonBadRequest},
		{"config not JSON", upload.InitRequest{TotalSize: 1, Config: json.RawMessage("{nope"), Files: []upload.FileSpec{{Path: "a", Size: 1}}}, upload.ReasonBadRequest},
	}
	for _, tc := range initCases {
		_, err := c.Init(ctxT(t), tc.req)
		checkErr(t, "init: "+tc.name, err, tc.reason)
	}
	chunkCases := []struct {
		name   string
		ch     upload.Chunk
		reason string
	}{
		{"unknown upload", upload.Chunk{UploadID: upload.NewID(), FilePath: "f.bin", Data: data[:10]}, upload.ReasonUnknownUpload},
		{"malformed upload id", upload.Chunk{UploadID: "x.y>", FilePath: "f.bin", Data: data[:10]}, upload.ReasonUnknownUpload},
		{"another user's upload", upload.Chunk{UploadID: id, UserID: "mallory", FilePath: "f.bin", Data: data[:10]}, upload.ReasonUnknownUpload},
		{"unknown file", upload.Chunk{UploadID: id, FilePath: "nope.bin", Data: data[:10]}, upload.ReasonUnknownFile},
		{"negative offset", upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: -1, Data: data[:10]}, upload.ReasonOutOfRange},
		{"offset past the end", upload.Chunk{UploadID: id, FilePath: "small.txt", Offset: 11, Data: data[:1]}, upload.ReasonOutOfRange},
		{"length past the end", upload.Chunk{UploadID: id, FilePath: "small.txt", Offset: 5, Data: data[:6]}, upload.ReasonOutOfRange},
		{"wrong checksum", upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: mib, Data: data[mib : 2*mib], Checksum: sha(data[:10])}, upload.ReasonChecksumMismatch},
		{"checksum not hex", upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: mib, Data: data[mib : 2*mib], Checksum: "sha256..."}, upload.ReasonChecksumMismatch},
		{"chunk over the limit", upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: 0, Data: data[:2*mib+1]}, upload.ReasonChunkTooLarge},
		{"other bytes at a stored chunk", upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: 0, Data: data[mib : 2*mib]}, upload.ReasonChunkConflict},
	}
	for _, tc := range chunkCases {
		_, err := c.PutChunk(ctxT(t), tc.ch)
		checkErr(t, "chunk: "+tc.name, err, tc.reason)
	}
	_, err = c.Complete(ctxT(t), id, "alice")
	checkErr(t, "complete while incomplete", err, upload.ReasonIncomplete)
	// Nothing acknowledged was lost to the refusals.
	st, err := c.Status(ctxT(t), id, "alice")
	if err != nil || st.TotalWritten != mib || st.Files[0].Stored != mib {
		t.Fatalf("status after refusals: %+v, %v", st, err)
	}
	// Checksums are accepted in upper case, with a prefix, or base64.
	d := data[mib : 2*mib]
	if _, err := c.PutChunk(ctxT(t), upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: mib, Data: d, Checksum: "SHA256:" + sha(d)}); err != nil {
		t.Fatal(err)
	}
	putAll(t, c, id, "small.txt", data[:10], mib, true)
	if _, err := c.PutChunk(ctxT(t), upload.Chunk{UploadID: id, FilePath: "f.bin", Offset: 2 * mib, Data: data[2*mib:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctxT(t), id, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutChunk(ctxT(t), upload.Chunk{UploadID: id, FilePath: "small.txt", Offset: 0, Data: data[:5]})
	checkErr(t, "chunk after complete", err, upload.ReasonNotActive)
	_, err = c.Complete(ctxT(t), id, "mallory")
	checkErr(t, "complete by another user", err, upload.ReasonUnknownUpload)
	checkErr(t, "cancel by another user", c.Cancel(ctxT(t), id, "mallory"), upload.ReasonUnknownUpload)
	checkErr(t, "cancel unknown", c.Cancel(ctxT(t), upload.NewID(), ""), upload.ReasonUnknownUpload)
	// A request that is not protobuf is answered, not dropped.
	m, err := s.bus.NC.Request(bus.SubjUploadChunk(), []byte{0xff, 0xff, 0xff}, 5e9)
	if err != nil {
		t.Fatal(err)
	}
	reply := &syv1.UploadChunkReply{}
	if err := protoUnmarshal(m.Data, reply); err != nil || reply.GetError().GetCode() != 400 || reply.GetError().GetReason() != upload.ReasonBadRequest {
		t.Fatalf("garbage request answered %v, %v", reply, err)
	}
}

func checkErr(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var e *upload.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v, want reason %s", what, err, reason)
	}
	if e.Reason != reason || e.Code != upload.ReasonCode(reason) {
		t.Fatalf("%s: %s (%d), want %s (%d)", what, e.Reason, e.Code, reason, upload.ReasonCode(reason))
	}
}

func TestCancelDiscardsEverything(t *testing.T) {
	url, s, c := setup(t)
	data := testData(3*mib, 5)
	init, err := c.Init(ctxT(t), upload.InitRequest{OwnerUserID: "u", TotalSize: int64(len(data)), Files: []upload.FileSpec{{Path: "x", Size: int64(len(data))}}})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, c, init.UploadID, "x", data[:2*mib], mib, false)
	if err := c.Cancel(ctxT(t), init.UploadID, "u"); err != nil {
		t.Fatal(err)
	}
	info, err := s.stream.Info(ctxT(t), jetstream.WithSubjectFilter(upload.ChunkFilter(init.UploadID, -1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 0 {
		t.Fatalf("%d chunk subjects left after cancel", len(info.State.Subjects))
	}
	lister, err := s.kv.ListKeys(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for k := range lister.Keys() {
		if bytes.Contains([]byte(k), []byte(init.UploadID)) {
			t.Fatalf("key %s left after cancel", k)
		}
	}
	_, err = c.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: "x", Offset: 2 * mib, Data: data[2*mib:]})
	checkErr(t, "chunk after cancel", err, upload.ReasonUnknownUpload)
	_ = url
}
