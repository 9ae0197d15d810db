package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/dialect/device"
)

// TestFramesDecodeWithTheCodec: what devicectl sends is what the hub's
// codec reads.
func TestFramesDecodeWithTheCodec(t *testing.T) {
	b, err := textFrame("ctl-1", "hub_connected", hubConnected{Name: "devicectl", Version: version, HubID: "hub-1", Token: ""})
	if err != nil {
		t.Fatal(err)
	}
	f, derr := device.Decode(b)
	if derr != nil || f.ID != "ctl-1" || *f.Body.(*device.HubConnected) != (device.HubConnected{Name: "devicectl", Version: version, HubID: "hub-1"}) {
		t.Fatalf("hub_connected %s: %+v %v", b, f, derr)
	}
	b, _ = textFrame("ctl-2", "init_upload", initUpload{Config: uploadConfig{GameName: "G", Executable: "g.exe"}, TotalSize: 5,
		Files: []uploadFile{{RelativePath: "g.exe", Size: 2}, {RelativePath: "data/x", Size: 3}}})
	f, derr = device.Decode(b)
	if derr != nil {
		t.Fatal(derr)
	}
	want := &device.InitUpload{Config: device.UploadConfig{GameName: "G", Executable: "g.exe"}, TotalSize: 5,
		Files: []device.UploadFile{{RelativePath: "g.exe", Size: 2}, {RelativePath: "data/x", Size: 3}}}
	if !reflect.DeepEqual(f.Body, want) {
		t.Fatalf("init_upload = %+v", f.Body)
	}
	b, _ = textFrame("ctl-3", "list_shortcuts", map[string]json.RawMessage{"userId": userID("76561198012345678")})
	if f, derr = device.Decode(b); derr != nil || f.Body.(*device.ListShortcuts).UserID != device.NumericUserID(76561198012345678) {
		t.Fatalf("list_shortcuts %s: %v", b, derr)
	}
	b, _ = textFrame("ctl-4", "complete_upload", completeUpload{UploadID: "u", CreateShortcut: true, Shortcut: &shortcutConfig{Name: "G", Exe: "g.exe"}})
	if f, derr = device.Decode(b); derr != nil || f.Body.(*device.CompleteUpload).Shortcut.Exe != "g.exe" {
		t.Fatalf("complete_upload %s: %v", b, derr)
	}

	data := []byte("chunk bytes")
	for _, withSum := range []bool{true, false} {
		fr, err := chunkFrame(chunkHeader{ID: "ctl-5", UploadID: "u", FilePath: "data/x", Offset: 1 << 20}, data, withSum)
		if err != nil {
			t.Fatal(err)
		}
		c, derr := device.DecodeChunk(fr, 0)
		if derr != nil || c.Header.ID != "ctl-5" || c.Header.UploadID != "u" || c.Header.FilePath != "data/x" || c.Header.Offset != 1<<20 || !bytes.Equal(c.Data, data) {
			t.Fatalf("chunk: %+v %v", c, derr)
		}
		if (c.Header.Checksum != "") != withSum {
			t.Fatalf("checksum %q with %v", c.Header.Checksum, withSum)
		}
		if _, verr := c.Verify(); verr != nil {
			t.Fatal(verr)
		}
	}
}

// fakeDevice plays the device's side of the document with the codec.
type fakeDevice struct {
	t        *testing.T
	code     string
	token    string
	mu       sync.Mutex
	files    map[string][]byte // path → bytes as stored
	chunks   int
	checksum int                 // chunks that carried a checksum
	preload  map[string][2]int64 // ranges already stored (resume)
	connects int
}

func (d *fakeDevice) serve(w http.ResponseWriter, r *http.Request) {
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	d.mu.Lock()
	d.connects++
	d.mu.Unlock()
	write := func(b []byte) { _ = conn.WriteMessage(websocket.TextMessage, b) }
	reply := func(req *device.Message, payload any) {
		b, err := device.Reply(req, payload)
		if err != nil {
			d.t.Errorf("reply: %v", err)
		}
		write(b)
	}
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			d.chunk(data, write)
			continue
		}
		f, derr := device.Decode(data)
		if derr != nil {
			write(device.ErrorFor(derr))
			continue
		}
		switch f.Type {
		case device.TypeHubConnected:
			if h := f.Body.(*device.HubConnected); h.Token == d.token && h.HubID != "" {
				b, _ := device.Encode(f.ID, device.TypeAgentStatus, device.AgentStatus{Name: "Fake Deck", Version: "1", Platform: "linux", AcceptConnections: true})
				write(b)
			} else {
				b, _ := device.Encode(f.ID, device.TypePairingRequired, device.PairingRequired{Code: d.code, ExpiresIn: 60})
				write(b)
			}
		case device.TypePairConfirm:
			if f.Body.(*device.PairConfirm).Code != d.code {
				b, _ := device.Encode(f.ID, device.TypePairFailed, device.PairFailed{Reason: "invalid code"})
				write(b)
				continue
			}
			b, _ := device.Encode(f.ID, device.TypePairSuccess, device.PairSuccess{Token: d.token})
			write(b)
			b, _ = device.Encode(f.ID, device.TypeAgentStatus, device.AgentStatus{Name: "Fake Deck", Version: "1", Platform: "linux", AcceptConnections: true})
			write(b)
		case device.TypeGetInfo:
			reply(&f.Message, device.InfoResponse{Agent: device.AgentInfo{ID: "fake", Name: "Fake Deck", Platform: "linux", Capabilities: []string{"file_upload"}}})
		case device.TypeInitUpload:
			in := f.Body.(*device.InitUpload)
			d.mu.Lock()
			for _, fl := range in.Files {
				d.files[fl.RelativePath] = make([]byte, fl.Size)
			}
			d.mu.Unlock()
			reply(&f.Message, device.UploadInitResponse{UploadID: "up-1", ChunkSize: 4})
		case device.TypeGetUploadStatus:
			st := device.UploadStatusResponse{UploadID: "up-1", ChunkSize: 4}
			for p, r := range d.preload {
				st.Files = append(st.Files, device.FileStatus{Path: p, Size: int64(len(d.files[p])), Ranges: [][2]int64{r}})
			}
			reply(&f.Message, st)
		case device.TypeCompleteUpload:
			ev, _ := device.Encode("", device.TypeOperationEvent, device.OperationEvent{Type: "install", Status: "complete", GameName: "G", Progress: 100, Message: "Installation complete"})
			write(ev)
			reply(&f.Message, device.OperationResult{Success: device.Succeeded(true), Path: "/games/G", AppID: 7})
		default:
			write(device.ErrorReply(f.ID, device.CodeNotImplemented, ""))
		}
	}
}

func (d *fakeDevice) chunk(data []byte, write func([]byte)) {
	c, derr := device.DecodeChunk(data, 4)
	if derr == nil {
		_, derr = c.Verify()
	}
	if derr != nil {
		write(device.ErrorFor(derr))
		return
	}
	d.mu.Lock()
	copy(d.files[c.Header.FilePath][c.Header.Offset:], c.Data)
	d.chunks++
	if c.Header.Checksum != "" {
		d.checksum++
	}
	d.mu.Unlock()
	b, _ := device.Encode(c.Header.ID, device.TypeUploadChunkResponse, device.UploadChunkResponse{UploadID: "up-1", BytesWritten: int64(len(c.Data))})
	write(b)
}

func newFakeDevice(t *testing.T) (*fakeDevice, string) {
	d := &fakeDevice{t: t, code: "123456", token: "tok-xyz", files: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	return d, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func runCtl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	rc := run(args, strings.NewReader(stdin), &out, &errOut)
	return rc, out.String(), errOut.String()
}

func TestPairThenStoredToken(t *testing.T) {
	d, url := newFakeDevice(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	// First run: pairing with the code typed on stdin.
	rc, out, errOut := runCtl(t, "123456\n", "-hub", url, "-token-file", tokens, "info")
	if rc != 0 || !strings.Contains(out, `"Fake Deck"`) || !strings.Contains(errOut, "Pairing required") {
		t.Fatalf("rc %d out %s err %s", rc, out, errOut)
	}
	b, _ := os.ReadFile(tokens)
	if !strings.Contains(string(b), "tok-xyz") {
		t.Fatalf("token file = %s", b)
	}
	// Second run: the stored token, no prompt.
	rc, _, errOut = runCtl(t, "", "-hub", url, "-token-file", tokens, "info")
	if rc != 0 || strings.Contains(errOut, "Pairing required") {
		t.Fatalf("second run rc %d err %s", rc, errOut)
	}
	// A wrong -code fails with the device's reason.
	rc, _, errOut = runCtl(t, "", "-hub", url, "-token-file", filepath.Join(t.TempDir(), "t.json"), "-code", "000000", "info")
	if rc != 1 || !strings.Contains(errOut, "invalid code") {
		t.Fatalf("wrong code rc %d err %s", rc, errOut)
	}
	// An operation the device lacks: the 501 is reported.
	rc, _, errOut = runCtl(t, "", "-hub", url, "-token-file", tokens, "restart")
	if rc != 1 || !strings.Contains(errOut, "501") {
		t.Fatalf("501 rc %d err %s", rc, errOut)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connects != 4 {
		t.Fatalf("connects = %d", d.connects)
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	dir := filepath.Join(t.TempDir(), "Game")
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUploadDirectory(t *testing.T) {
	d, url := newFakeDevice(t)
	files := map[string]string{"game.exe": "MZ-0123456789", "data/level1.pak": "abcdefghij", "empty": ""}
	dir := writeTree(t, files)
	rc, out, errOut := runCtl(t, "", "-hub", url, "-token-file", filepath.Join(t.TempDir(), "t.json"), "-code", "123456",
		"upload", dir, "-exe", "game.exe", "-shortcut")
	if rc != 0 {
		t.Fatalf("rc %d err %s", rc, errOut)
	}
	if !strings.Contains(out, `"/games/G"`) || !strings.Contains(errOut, "install G: complete") {
		t.Fatalf("out %s err %s", out, errOut)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for p, want := range files {
		if got := string(d.files[p]); got != want {
			t.Fatalf("%s = %q, want %q", p, got, want)
		}
	}
	// 4-byte chunks: 13 → 4, 10 → 3, empty → none; each with a checksum.
	if d.chunks != 7 || d.checksum != 7 {
		t.Fatalf("chunks %d with checksum %d", d.chunks, d.checksum)
	}
}

func TestUploadWithoutChecksumAndResume(t *testing.T) {
	d, url := newFakeDevice(t)
	files := map[string]string{"a.bin": "0123456789AB"}
	dir := writeTree(t, files)
	// The device already has [0, 8) of a.bin: only the last chunk goes.
	d.files["a.bin"] = []byte("01234567\x00\x00\x00\x00")
	d.preload = map[string][2]int64{"a.bin": {0, 8}}
	rc, _, errOut := runCtl(t, "", "-hub", url, "-token-file", filepath.Join(t.TempDir(), "t.json"), "-code", "123456",
		"-checksum=false", "upload", dir, "-resume", "up-1")
	if rc != 0 {
		t.Fatalf("rc %d err %s", rc, errOut)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if string(d.files["a.bin"]) != files["a.bin"] || d.chunks != 1 || d.checksum != 0 {
		t.Fatalf("a.bin = %q after %d chunks (%d with checksum)", d.files["a.bin"], d.chunks, d.checksum)
	}
}

func TestParseConfigInterleavedFlags(t *testing.T) {
	tf := filepath.Join(t.TempDir(), "t.json")
	cfg, err := parseConfig([]string{"-token-file", tf, "upload", "/x/MyGame", "-exe", "run.sh", "-shortcut"}, io.Discard)
	if err != nil || cfg.command != "upload" || cfg.args[0] != "/x/MyGame" || cfg.game != "MyGame" || cfg.exe != "run.sh" || !cfg.shortcut || cfg.hubID == "" {
		t.Fatalf("cfg = %+v %v", cfg, err)
	}
	// The generated hubId is kept for the next run.
	again, err := parseConfig([]string{"-token-file", tf, "info"}, io.Discard)
	if err != nil || again.hubID != cfg.hubID {
		t.Fatalf("hubId %q then %q (%v)", cfg.hubID, again.hubID, err)
	}
	for _, bad := range [][]string{{"-token-file", tf}, {"-token-file", tf, "frobnicate"}, {"-token-file", tf, "status"}, {"-token-file", tf, "info", "extra"}} {
		if _, err := parseConfig(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestPingsEveryFiveSeconds(t *testing.T) {
	if pingPeriod != device.PingPeriod || pongWait != device.PongWait || writeWait != device.WriteWait || maxMessage != device.MaxMessageBytes {
		t.Fatal("devicectl's timing differs from the document's table")
	}
}
