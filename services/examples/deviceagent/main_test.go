package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/services/examples/internal/fakehub"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

// syncBuffer is the agent's terminal.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testAgent struct {
	*agent
	dir    string
	stdout *syncBuffer
	hub    *fakehub.Hub
	conn   *fakehub.Conn
}

func start(t *testing.T, mutate func(*config)) *testAgent {
	t.Helper()
	hub := fakehub.New(t, "/ws/runtime")
	dir := t.TempDir()
	cfg := config{hubURL: hub.URL, token: "tok-1", id: "deck-1", dir: dir, name: "Test Deck", accept: true,
		steamUsers: []steamUser{{"76561198012345678", "Gamer"}}}
	if mutate != nil {
		mutate(&cfg)
	}
	out := &syncBuffer{}
	a, err := newAgent(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})), out)
	if err != nil {
		t.Fatal(err)
	}
	a.backoff = hubconn.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(fakehub.Timeout):
			t.Error("agent did not stop")
		}
	})
	ta := &testAgent{agent: a, dir: dir, stdout: out, hub: hub}
	ta.conn = hub.Accept(t)
	return ta
}

func (ta *testAgent) helloAck(t *testing.T) helloPayload {
	t.Helper()
	h := ta.conn.Expect(t, "runtime.hello")
	ta.conn.Send(t, "hello.ack", "", 0, map[string]any{"ok": true})
	return fakehub.Decode[helloPayload](t, h)
}

// request sends a device.request and returns the device.response.
func (ta *testAgent) request(t *testing.T, id, op string, payload string) deviceResponseIn {
	t.Helper()
	p := map[string]any{"request_id": id, "op": op, "hub_id": "hub-1"}
	if payload != "" {
		p["payload"] = json.RawMessage(payload)
	}
	ta.conn.Send(t, "device.request", "", 0, p)
	return ta.response(t)
}

func (ta *testAgent) response(t *testing.T) deviceResponseIn {
	t.Helper()
	for {
		f := ta.conn.Next(t)
		if f.Type == "device.response" {
			return fakehub.Decode[deviceResponseIn](t, f)
		}
		if f.Type != "device.event" {
			t.Fatalf("unexpected %s %s", f.Type, f.Payload)
		}
	}
}

// deviceResponseIn is device.response as the hub reads it.
type deviceResponseIn struct {
	RequestID string          `json:"request_id"`
	Op        string          `json:"op"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	Error     *deviceError    `json:"error"`
}

func ok(t *testing.T, r deviceResponseIn, id, typ string) {
	t.Helper()
	if r.RequestID != id || r.Type != typ || r.Error != nil {
		t.Fatalf("response = %+v payload %s, want %s %s", r, r.Payload, id, typ)
	}
}

func TestHelloDeclaresDevice(t *testing.T) {
	ta := start(t, func(c *config) { c.accept = false })
	h := ta.helloAck(t)
	if h.RuntimeID != "deck-1" || h.Token != "tok-1" || len(h.Endpoints) != 1 {
		t.Fatalf("hello = %+v", h)
	}
	ep := h.Endpoints[0]
	d := ep.Caps.Device
	if ep.ID != "deck-1" || ep.Profile != "device" || d.Name != "Test Deck" || d.Platform == "" || d.AcceptConnections ||
		!strings.Contains(strings.Join(d.Capabilities, ","), "file_upload") {
		t.Fatalf("endpoint = %+v", ep)
	}
}

func TestInfoConfigUsersAndUnknown(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)

	r := ta.request(t, "r1", "get_info", "")
	ok(t, r, "r1", "info_response")
	info := decodeJSON[device.InfoResponse](t, r.Payload)
	if info.Agent.ID != "deck-1" || info.Agent.Name != "Test Deck" || len(info.Agent.Capabilities) == 0 {
		t.Fatalf("info = %+v", info)
	}

	r = ta.request(t, "r2", "get_config", "")
	ok(t, r, "r2", "config_response")
	if c := decodeJSON[device.ConfigResponse](t, r.Payload); c.InstallPath != ta.dir {
		t.Fatalf("config = %+v, want %s", c, ta.dir)
	}

	r = ta.request(t, "r3", "get_steam_users", "")
	ok(t, r, "r3", "steam_users_response")
	if string(r.Payload) != `{"users":[{"id":"76561198012345678","name":"Gamer"}]}` {
		t.Fatalf("users = %s", r.Payload)
	}

	r = ta.request(t, "r4", "restart_steam", "")
	ok(t, r, "r4", "steam_response")
	if string(r.Payload) != `{"success":true,"message":"Steam restarted"}` {
		t.Fatalf("steam = %s", r.Payload)
	}

	r = ta.request(t, "r5", "delete_game", `{"appId":1}`)
	if r.RequestID != "r5" || r.Error == nil || r.Error.Code != 501 || r.Type != "" {
		t.Fatalf("unknown op = %+v", r)
	}
}

func TestNoSteamUsers(t *testing.T) {
	ta := start(t, func(c *config) { c.steamUsers = nil })
	ta.helloAck(t)
	r := ta.request(t, "r1", "get_steam_users", "")
	ok(t, r, "r1", "steam_users_response")
	if string(r.Payload) != `{"users":[]}` {
		t.Fatalf("users = %s", r.Payload)
	}
}

func TestShortcutsLifecycle(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	// create with a numeric userId (as the document's create_shortcut).
	r := ta.request(t, "c1", "create_shortcut", `{"userId":76561198012345678,"shortcut":{"name":"Celeste","exe":"/g/Celeste/Celeste.exe","startDir":"/g/Celeste"}}`)
	ok(t, r, "c1", "operation_result")
	res := decodeJSON[device.OperationResult](t, r.Payload)
	if res.AppID != appID("/g/Celeste/Celeste.exe", "Celeste") || res.AppID < 0x80000000 {
		t.Fatalf("create = %s", r.Payload)
	}

	// list with a string userId: the same user.
	r = ta.request(t, "l1", "list_shortcuts", `{"userId":"76561198012345678"}`)
	ok(t, r, "l1", "shortcuts_response")
	list := decodeJSON[device.ShortcutsResponse](t, r.Payload)
	if len(list.Shortcuts) != 1 || list.Shortcuts[0].Name != "Celeste" || list.Shortcuts[0].AppID != res.AppID {
		t.Fatalf("list = %s", r.Payload)
	}

	art := `{"userId":"76561198012345678","appId":` + jsonInt(res.AppID) + `,"artwork":{"grid":"https://img/grid.png","hero":"https://img/hero.png","logo":"file:///etc/passwd"}}`
	r = ta.request(t, "a1", "apply_artwork", art)
	ok(t, r, "a1", "artwork_response")
	if string(r.Payload) != `{"applied":["grid","hero"],"failed":[{"type":"logo","error":"not an http(s) URL"}]}` {
		t.Fatalf("artwork = %s", r.Payload)
	}

	// The shortcuts survive in the JSON file.
	b, err := os.ReadFile(filepath.Join(ta.dir, "shortcuts.json"))
	if err != nil || !strings.Contains(string(b), "https://img/grid.png") {
		t.Fatalf("shortcuts.json = %s %v", b, err)
	}

	r = ta.request(t, "d1", "delete_shortcut", `{"userId":"76561198012345678","appId":`+jsonInt(res.AppID)+`,"restartSteam":true}`)
	ok(t, r, "d1", "operation_result")
	r = ta.request(t, "d2", "delete_shortcut", `{"userId":"76561198012345678","appId":`+jsonInt(res.AppID)+`}`)
	if r.Error == nil || r.Error.Code != 404 {
		t.Fatalf("second delete = %+v", r)
	}
	r = ta.request(t, "l2", "list_shortcuts", `{"userId":76561198012345678}`)
	if string(r.Payload) != `{"shortcuts":[]}` {
		t.Fatalf("list after delete = %s", r.Payload)
	}
	r = ta.request(t, "a2", "apply_artwork", `{"userId":"1","appId":5,"artwork":{}}`)
	if r.Error == nil || r.Error.Code != 404 {
		t.Fatalf("artwork on unknown = %+v", r)
	}
	r = ta.request(t, "c2", "create_shortcut", `{"userId":"x"}`)
	if r.Error == nil || r.Error.Code != 400 {
		t.Fatalf("bad create = %+v", r)
	}
}

func TestPairingCodeIsShown(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	ta.conn.Send(t, "device.pairing_code", "", 0, map[string]any{"code": "123456", "expires_in": 60, "hub_id": "hub-abc123", "hub_name": "CapyDeploy Hub"})
	// A request after it is answered after it was handled (one reader).
	ta.request(t, "r1", "get_config", "")
	out := ta.stdout.String()
	if !strings.Contains(out, "123456") || !strings.Contains(out, "CapyDeploy Hub") || !strings.Contains(out, "60 s") {
		t.Fatalf("terminal = %q", out)
	}
}

// files serves upload files on the fake hub with the token check.
func serveFiles(t *testing.T, hub *fakehub.Hub, files map[string][]byte) {
	hub.Mux.HandleFunc("GET /v1/uploads/up-1/files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer dl-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		b, ok := files[r.PathValue("path")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	})
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func uploadReadyFor(files map[string][]byte, order []string, game string) map[string]any {
	var list []map[string]any
	var total int
	for _, p := range order {
		list = append(list, map[string]any{"path": p, "size": len(files[p]), "sha256": sum(files[p]), "url": "/v1/uploads/up-1/files/" + p})
		total += len(files[p])
	}
	return map[string]any{"request_id": "cu-1", "upload_id": "up-1", "game_name": game, "files": list, "token": "dl-token", "total_size": total}
}

func TestUploadReadyFetchesAndVerifies(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	files := map[string][]byte{
		"Celeste.exe":   []byte("MZ fake exe"),
		"data/game.pak": bytes.Repeat([]byte("pak!"), 300_000),
		"empty.txt":     {},
	}
	serveFiles(t, ta.hub, files)
	ta.conn.Send(t, "device.upload_ready", "", 0, uploadReadyFor(files, []string{"Celeste.exe", "data/game.pak", "empty.txt"}, "Celeste"))

	var statuses []string
	for {
		f := ta.conn.Next(t)
		if f.Type == "device.response" {
			r := fakehub.Decode[deviceResponseIn](t, f)
			ok(t, r, "cu-1", "operation_result")
			want := `{"success":true,"path":"` + filepath.Join(ta.dir, "Celeste") + `"}`
			if string(r.Payload) != want {
				t.Fatalf("result = %s, want %s", r.Payload, want)
			}
			break
		}
		ev := fakehub.Decode[struct {
			RequestID string                `json:"request_id"`
			UploadID  string                `json:"upload_id"`
			Type      string                `json:"type"`
			Payload   device.OperationEvent `json:"payload"`
		}](t, f)
		if f.Type != "device.event" || ev.RequestID != "cu-1" || ev.UploadID != "up-1" || ev.Type != "operation_event" ||
			ev.Payload.Type != "install" || ev.Payload.GameName != "Celeste" {
			t.Fatalf("event = %s %s", f.Type, f.Payload)
		}
		statuses = append(statuses, ev.Payload.Status)
	}
	if statuses[0] != "start" || statuses[len(statuses)-1] != "complete" {
		t.Fatalf("statuses = %v", statuses)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(ta.dir, "Celeste", p))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, %v", p, len(got), err)
		}
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "Celeste", "data", "game.pak.part")); !os.IsNotExist(err) {
		t.Fatalf("temp file left: %v", err)
	}
}

func TestUploadReadyBadChecksumAndMissingFile(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	files := map[string][]byte{"a.bin": []byte("real bytes")}
	serveFiles(t, ta.hub, files)
	ready := uploadReadyFor(files, []string{"a.bin"}, "Game")
	ready["files"].([]map[string]any)[0]["sha256"] = sum([]byte("other bytes"))
	ta.conn.Send(t, "device.upload_ready", "", 0, ready)
	r := ta.response(t)
	if r.RequestID != "cu-1" || r.Error == nil || r.Error.Code != 500 || !strings.Contains(r.Error.Message, "sha256") {
		t.Fatalf("bad checksum = %+v", r)
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "Game", "a.bin")); !os.IsNotExist(err) {
		t.Fatalf("a file with a wrong sha256 was kept: %v", err)
	}

	ready = uploadReadyFor(files, []string{"a.bin"}, "Game")
	ready["files"].([]map[string]any)[0]["url"] = "/v1/uploads/up-1/files/missing"
	ta.conn.Send(t, "device.upload_ready", "", 0, ready)
	if r := ta.response(t); r.Error == nil || r.Error.Code != 404 {
		t.Fatalf("missing file = %+v", r)
	}
}

func TestUploadReadyRefusesTraversal(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	files := map[string][]byte{"x": []byte("x")}
	serveFiles(t, ta.hub, files)
	for _, c := range []struct{ game, path string }{{"../outside", "x"}, {"Game", "../../x"}, {"Game", "/etc/x"}, {"Game", "a/../../x"}, {"a/b", "x"}} {
		ready := uploadReadyFor(files, []string{"x"}, c.game)
		ready["files"].([]map[string]any)[0]["path"] = c.path
		ta.conn.Send(t, "device.upload_ready", "", 0, ready)
		if r := ta.response(t); r.Error == nil || r.Error.Code != 400 {
			t.Fatalf("%+v: response %+v", c, r)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(ta.dir))
	for _, e := range entries {
		if e.Name() == "outside" || e.Name() == "x" {
			t.Fatalf("wrote %s outside the install dir", e.Name())
		}
	}
}

func TestCancelStopsFetch(t *testing.T) {
	ta := start(t, nil)
	ta.helloAck(t)
	started := make(chan struct{})
	ta.hub.Mux.HandleFunc("GET /v1/uploads/up-1/files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // hold the transfer until the agent gives up
	})
	ready := map[string]any{"request_id": "cu-1", "upload_id": "up-1", "game_name": "G", "token": "dl-token", "total_size": 1000000,
		"files": []map[string]any{{"path": "big.bin", "size": 1000000, "sha256": strings.Repeat("0", 64), "url": "/v1/uploads/up-1/files/big.bin"}}}
	ta.conn.Send(t, "device.upload_ready", "", 0, ready)
	select {
	case <-started:
	case <-time.After(fakehub.Timeout):
		t.Fatal("fetch did not start")
	}
	ta.conn.Send(t, "device.cancel", "", 0, map[string]any{"upload_id": "up-1", "reason": "cancel_upload"})
	r := ta.response(t)
	if r.Error == nil || r.Error.Message != "cancelled" {
		t.Fatalf("cancelled fetch = %+v", r)
	}
	if _, err := os.Stat(filepath.Join(ta.dir, "G", "big.bin.part")); !os.IsNotExist(err) {
		t.Fatalf("partial file left: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseConfig([]string{"-id", "deck", "-dir", dir, "-steam-users", "1:Alice, 2:Bob", "-accept=false"}, func(string) string { return "" }, io.Discard)
	if err != nil || cfg.id != "deck" || cfg.dir != dir || len(cfg.steamUsers) != 2 || cfg.steamUsers[1] != (steamUser{"2", "Bob"}) || cfg.accept {
		t.Fatalf("cfg = %+v %v", cfg, err)
	}
	for _, bad := range [][]string{{"-id", "a/b", "-dir", dir}, {"-steam-users", "x:y", "-dir", dir}, {"-dir", dir, "extra"}} {
		if _, err := parseConfig(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
