package uploads

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// recorder collects the push events of the cluster.
type recorder struct {
	t        *testing.T
	transfer chan *nats.Msg
	state    chan *nats.Msg
}

func record(t *testing.T, url string) *recorder {
	b := testenv.Bus(t, url, "push-reader")
	r := &recorder{t: t, transfer: make(chan *nats.Msg, 4096), state: make(chan *nats.Msg, 4096)}
	if _, err := b.NC.ChanSubscribe(push.Subject(push.KindProgress), r.transfer); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NC.ChanSubscribe(push.Subject(push.KindStateChange), r.state); err != nil {
		t.Fatal(err)
	}
	if err := b.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

// progressUntil returns the progress events of a transfer id (any id when
// empty) up to and including the first one with status final.
func (r *recorder) progressUntil(match func(*syv1.UploadProgress) bool, final string) []*syv1.UploadProgress {
	r.t.Helper()
	var out []*syv1.UploadProgress
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.transfer:
			p := unpushProgress(r.t, m)
			if !match(p) {
				continue
			}
			out = append(out, p)
			if p.GetStatus() == final {
				return out
			}
		case <-timeout:
			r.t.Fatalf("no %s event; got %v", final, out)
		}
	}
}

// statesUntil returns the file states of path up to and including last.
func (r *recorder) statesUntil(path string, last syv1.FileState) []syv1.FileState {
	r.t.Helper()
	var out []syv1.FileState
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.state:
			c := unpushState(r.t, m)
			if c.GetPath() != path {
				continue
			}
			if c.GetUserId() != "alice" || c.GetStorageName() != upload.StorageName {
				r.t.Fatalf("state change %v: want user alice, storage %s", c, upload.StorageName)
			}
			out = append(out, c.GetState())
			if c.GetState() == last {
				return out
			}
		case <-timeout:
			r.t.Fatalf("no state %v for %s; got %v", last, path, out)
		}
	}
}

// unpushProgress reads a push envelope back into the service's view of
// the event, checking it renders as a /notification Progress frame.
func unpushProgress(t *testing.T, m *nats.Msg) *syv1.UploadProgress {
	t.Helper()
	env := &syv1.Envelope{}
	if err := proto.Unmarshal(m.Data, env); err != nil {
		t.Fatal(err)
	}
	if _, err := push.Render(env); err != nil {
		t.Fatalf("progress event does not render: %v", err)
	}
	tp := env.GetTransferProgress()
	mode := upload.ModeUpload
	if tp.GetMode() == syv1.TransferMode_TRANSFER_MODE_DOWNLOAD {
		mode = upload.ModeDownload
	}
	return &syv1.UploadProgress{UserId: tp.GetScope().GetUserId(), DeviceId: tp.GetScope().GetDeviceId(),
		TransferId: tp.GetTransferId(), TransferMode: mode, Status: push.StatusName(tp.GetStatus()),
		StorageType: tp.GetStorageType(), Path: tp.GetPath(), Bytes: tp.GetBytes(), Size: tp.GetSize(),
		Error: tp.GetError(), Name: tp.GetName(), StorageName: tp.GetStorageName(), Speed: tp.GetSpeed(),
		StartTimeUnixMs: tp.GetStartTime().AsTime().UnixMilli(), ProgressTimeUnixMs: tp.GetProgressTime().AsTime().UnixMilli()}
}

func unpushState(t *testing.T, m *nats.Msg) *syv1.UploadFileState {
	t.Helper()
	env := &syv1.Envelope{}
	if err := proto.Unmarshal(m.Data, env); err != nil {
		t.Fatal(err)
	}
	if _, err := push.Render(env); err != nil {
		t.Fatalf("state event does not render: %v", err)
	}
	c := env.GetFileStateChange()
	return &syv1.UploadFileState{UserId: c.GetScope().GetUserId(), DeviceId: c.GetScope().GetDeviceId(), Path: c.GetPath(),
		StorageName: c.GetStorageName(), State: syv1.FileState(c.GetState())}
}

func equalStates(a, b []syv1.FileState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTransferEvents(t *testing.T) {
	url, _, c := setup(t, func(c *Config) { c.EventInterval = time.Hour })
	rec := record(t, url)
	a := testData(40<<10, 13)
	files := map[string][]byte{"dir/a.bin": a, "b.txt": {'x'}}
	init, err := c.Init(ctxT(t), exampleInit(files, []string{"dir/a.bin", "b.txt"}))
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, c, init.UploadID, "dir/a.bin", a, 1<<10, true) // 40 small chunks
	putAll(t, c, init.UploadID, "b.txt", files["b.txt"], mib, true)
	done, err := c.Complete(ctxT(t), init.UploadID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	fileA := upload.FileID(init.UploadID, 0)
	evs := rec.progressUntil(func(p *syv1.UploadProgress) bool { return p.GetTransferId() == fileA }, upload.StatusCompleted)
	// Throttled to one InProgress per hour: the first, then the final one.
	if len(evs) != 2 || evs[0].GetStatus() != upload.StatusInProgress || evs[0].GetBytes() != 1<<10 {
		t.Fatalf("events of %s: %v", fileA, evs)
	}
	last := evs[1]
	if last.GetBytes() != int64(len(a)) || last.GetSize() != int64(len(a)) || last.GetTransferMode() != upload.ModeUpload ||
		last.GetUserId() != "alice" || last.GetDeviceId() != "deck-1" || last.GetPath() != init.UploadID+"/dir/a.bin" ||
		last.GetName() != "a.bin" || last.GetStorageName() != upload.StorageName || last.GetStorageType() != upload.StorageType ||
		last.GetError() != "" || last.GetStartTimeUnixMs() == 0 || last.GetProgressTimeUnixMs() < last.GetStartTimeUnixMs() || last.GetSpeed() < 0 {
		t.Fatalf("Completed event %v", last)
	}
	want := []syv1.FileState{syv1.FileState_FILE_STATE_TEMPORARY, syv1.FileState_FILE_STATE_UPLOADING, syv1.FileState_FILE_STATE_NORMAL}
	if got := rec.statesUntil(init.UploadID+"/dir/a.bin", syv1.FileState_FILE_STATE_NORMAL); !equalStates(got, want) {
		t.Fatalf("states of a.bin: %v, want %v", got, want)
	}

	// The device's download: Downloading, a Download transfer, Normal.
	mux := http.NewServeMux()
	mux.Handle(upload.DownloadPattern, c.DownloadHandler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if code, body, _ := get(t, upload.DownloadURL(srv.URL, init.UploadID, "dir/a.bin", done.DownloadToken), nil); code != 200 || len(body) != len(a) {
		t.Fatalf("download: %d, %d bytes", code, len(body))
	}
	dl := rec.progressUntil(func(p *syv1.UploadProgress) bool { return p.GetTransferMode() == upload.ModeDownload }, upload.StatusCompleted)
	if end := dl[len(dl)-1]; end.GetBytes() != int64(len(a)) || end.GetSize() != int64(len(a)) || end.GetPath() != init.UploadID+"/dir/a.bin" || !strings.HasPrefix(end.GetTransferId(), "dl-") || dl[0].GetStatus() != upload.StatusInProgress {
		t.Fatalf("download events %v", dl)
	}
	want = []syv1.FileState{syv1.FileState_FILE_STATE_DOWNLOADING, syv1.FileState_FILE_STATE_NORMAL}
	if got := rec.statesUntil(init.UploadID+"/dir/a.bin", syv1.FileState_FILE_STATE_NORMAL); !equalStates(got, want) {
		t.Fatalf("states while downloading: %v, want %v", got, want)
	}

	// Deleting a completed upload: Deleting, Deleted.
	if err := c.Cancel(ctxT(t), init.UploadID, "alice"); err != nil {
		t.Fatal(err)
	}
	want = []syv1.FileState{syv1.FileState_FILE_STATE_DELETING, syv1.FileState_FILE_STATE_DELETED}
	if got := rec.statesUntil(init.UploadID+"/b.txt", syv1.FileState_FILE_STATE_DELETED); !equalStates(got, want) {
		t.Fatalf("states on delete: %v, want %v", got, want)
	}

	// Cancelling an active upload ends its transfers with Cancelled.
	init2, err := c.Init(ctxT(t), exampleInit(map[string][]byte{"c": a}, []string{"c"}))
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, c, init2.UploadID, "c", a[:1<<10], 1<<10, false)
	if err := c.Cancel(ctxT(t), init2.UploadID, "alice"); err != nil {
		t.Fatal(err)
	}
	fileC := upload.FileID(init2.UploadID, 0)
	evs = rec.progressUntil(func(p *syv1.UploadProgress) bool { return p.GetTransferId() == fileC }, upload.StatusCancelled)
	if len(evs) != 2 {
		t.Fatalf("events of a cancelled upload: %v", evs)
	}
}
