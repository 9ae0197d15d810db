package uploads

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/upload"
)

// A replica dies after storing a chunk and before answering (as with
// kill -9): the client's request times out, the chunk is sent again to the
// surviving replica, which finds it stored and acknowledges it; the upload
// completes there with byte-identical output.
func TestReplicaKilledMidUpload(t *testing.T) {
	n := testenv.NATS(t)
	a, aBus := startService(t, n.URL(), "upload-a")
	stored := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	var once sync.Once
	a.afterStore = func() {
		if calls.Add(1) == 3 {
			once.Do(func() { close(stored) })
			<-release
		}
	}
	c := newClient(t, n.URL(), "gateway-1", upload.ClientOptions{Timeout: 2 * time.Second, Retries: 3})
	data := testData(6*mib+123, 6)
	init, err := c.Init(ctxT(t), upload.InitRequest{OwnerUserID: "u", DeviceID: "d", TotalSize: int64(len(data)),
		Files: []upload.FileSpec{{Path: "game.pak", Size: int64(len(data))}}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(k int) (upload.ChunkResult, error) {
		off := k * mib
		return c.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: "game.pak", Offset: int64(off), Data: data[off:min(off+mib, len(data))]})
	}
	for k := 0; k < 2; k++ { // acknowledged by replica a
		if _, err := put(k); err != nil {
			t.Fatal(err)
		}
	}
	third := make(chan error, 1)
	var thirdResult upload.ChunkResult
	go func() {
		var err error
		thirdResult, err = put(2)
		third <- err
	}()
	<-stored // a has stored chunk 2 durably and not answered
	startService(t, n.URL(), "upload-b")
	aBus.NC.Close() // the kill: a's connection is gone, its answer is never sent
	close(release)
	if err := <-third; err != nil {
		t.Fatalf("chunk stored by the killed replica: %v", err)
	}
	if !thirdResult.Duplicate {
		t.Fatal("the survivor stored the chunk again: the killed replica's stored chunk was not found")
	}
	for k := 3; k*mib < len(data); k++ {
		if _, err := put(k); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Status(ctxT(t), init.UploadID, "u")
	if err != nil || st.TotalWritten != int64(len(data)) {
		t.Fatalf("status %+v, %v", st, err)
	}
	done, err := c.Complete(ctxT(t), init.UploadID, "u")
	if err != nil {
		t.Fatal(err)
	}
	if done.Files[0].SHA256 != sha(data) {
		t.Fatal("sha256 after failover differs")
	}
	if got := readAll(t, c, init.UploadID, "game.pak"); !bytes.Equal(got, data) {
		t.Fatal("file after failover is not byte-identical")
	}
}

// After a disconnect, a new client (another gateway) asks which ranges are
// stored, sends only the rest and completes.
func TestResumeFromAnotherClient(t *testing.T) {
	n := testenv.NATS(t)
	startService(t, n.URL(), "upload-1")
	startService(t, n.URL(), "upload-2")
	first := newClient(t, n.URL(), "gateway-1", upload.ClientOptions{})
	files := map[string][]byte{"a.bin": testData(3*mib+5, 7), "b.bin": testData(mib/2, 8)}
	init, err := first.Init(ctxT(t), exampleInit(files, []string{"a.bin", "b.bin"}))
	if err != nil {
		t.Fatal(err)
	}
	// The first gateway gets chunks 0 and 2 of a.bin through, then its
	// controller's socket drops.
	for _, k := range []int{0, 2} {
		off := k * mib
		if _, err := first.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: "a.bin", Offset: int64(off), Data: files["a.bin"][off : off+mib]}); err != nil {
			t.Fatal(err)
		}
	}
	second := newClient(t, n.URL(), "gateway-2", upload.ClientOptions{})
	st, err := second.Status(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []upload.Range{{Start: 0, End: mib}, {Start: 2 * mib, End: 3 * mib}}
	if len(st.Files[0].Ranges) != 2 || st.Files[0].Ranges[0] != want[0] || st.Files[0].Ranges[1] != want[1] || st.Files[1].Stored != 0 {
		t.Fatalf("status after disconnect: %+v", st.Files)
	}
	sent := 0
	for _, f := range st.Files {
		var pos int64
		gaps := append(append([]upload.Range(nil), f.Ranges...), upload.Range{Start: f.Size, End: f.Size})
		for _, r := range gaps {
			for off := pos; off < r.Start; off += mib {
				end := min(off+mib, r.Start)
				if _, err := second.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: f.Path, Offset: off, Data: files[f.Path][off:end]}); err != nil {
					t.Fatal(err)
				}
				sent += int(end - off)
			}
			pos = r.End
		}
	}
	if want := len(files["a.bin"]) + len(files["b.bin"]) - 2*mib; sent != want {
		t.Fatalf("resumed with %d bytes, want only the missing %d", sent, want)
	}
	done, err := second.Complete(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range done.Files {
		if f.SHA256 != sha(files[f.Path]) || !bytes.Equal(readAll(t, first, init.UploadID, f.Path), files[f.Path]) {
			t.Fatalf("%s differs after resume", f.Path)
		}
	}
}

// With a NATS server at the default 1 MiB max payload, init answers a
// chunkSize that fits and a 1 MiB chunk is refused with a clear error.
func TestSmallMaxPayload(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	startService(t, s.ClientURL(), "upload-1")
	c := newClient(t, s.ClientURL(), "gateway-1", upload.ClientOptions{})
	if c.MaxChunk() >= mib {
		t.Fatalf("MaxChunk %d with a 1 MiB max payload", c.MaxChunk())
	}
	data := testData(2*mib, 9)
	init, err := c.Init(ctxT(t), upload.InitRequest{TotalSize: int64(len(data)), Files: []upload.FileSpec{{Path: "f", Size: int64(len(data))}}})
	if err != nil {
		t.Fatal(err)
	}
	if init.ChunkSize != c.MaxChunk() {
		t.Fatalf("chunkSize %d, want %d (what fits the max payload)", init.ChunkSize, c.MaxChunk())
	}
	_, err = c.PutChunk(ctxT(t), upload.Chunk{UploadID: init.UploadID, FilePath: "f", Data: data[:mib]})
	checkErr(t, "1 MiB chunk with a 1 MiB max payload", err, upload.ReasonChunkTooLarge)
	putAll(t, c, init.UploadID, "f", data, int(init.ChunkSize), true)
	if _, err := c.Complete(context.Background(), init.UploadID, ""); err != nil {
		t.Fatal(err)
	}
}
