package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Device dialect (document 001) end to end: devices on /ws/runtime of one
// gateway, controllers on /ws/device/{id} of another.

const (
	testChunk   = 64 << 10 // SY_UPLOAD_CHUNK_SIZE / SY_UPLOAD_MAX_CHUNK of these tests
	deviceReqTO = "2s"
)

func deviceEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"SY_ADMIN_TOKENS":           adminToken + "=ops",
		"SY_DEVICE_REQUEST_TIMEOUT": deviceReqTO,
		"SY_UPLOAD_CHUNK_SIZE":      fmt.Sprint(testChunk),
		"SY_UPLOAD_MAX_CHUNK":       fmt.Sprint(testChunk),
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// deviceHello is runtime.hello with one endpoint of profile "device".
func deviceHello(id string, accept bool) map[string]any {
	return map[string]any{"type": "runtime.hello", "ts": ts(), "payload": map[string]any{
		"runtime_id": id, "token": runtimeToken, "org_id": "default",
		"endpoints": []any{map[string]any{"id": id, "profile": "device", "name": "Deck " + id,
			"tags": map[string]any{"platform": "linux"},
			"caps": map[string]any{"device": map[string]any{"name": "Steam Deck", "platform": "linux", "version": "0.1.0",
				"capabilities": []any{"file_upload"}, "acceptConnections": accept}}}},
	}}
}

// connectDevice is a device agent played by the test on gateway gw.
func (h *hub) connectDevice(gw int, id string, accept bool) *peer {
	h.t.Helper()
	d := dial(h.t, h.ws(gw, "/ws/runtime"))
	d.MustSend(deviceHello(id, accept))
	if ack := d.Expect("hello.ack"); payload(ack)["ok"] != true {
		h.t.Fatalf("device hello refused: %v", ack)
	}
	d.Expect("runtime.token_refresh")
	return d
}

func (h *hub) controller(gw int, device string) *peer {
	return dial(h.t, h.ws(gw, "/ws/device/"+device))
}

func hubConnected(id, hubID, token string) map[string]any {
	return map[string]any{"id": id, "type": "hub_connected", "payload": map[string]any{
		"name": "CapyDeploy Hub", "version": "0.1.0", "hubId": hubID, "token": token}}
}

func req(id, typ string, p any) map[string]any {
	m := map[string]any{"id": id, "type": typ}
	if p != nil {
		m["payload"] = p
	}
	return m
}

// expectError waits for an error frame with code (skipping progress).
func expectError(t *testing.T, p *peer, id string, code int) map[string]any {
	t.Helper()
	m := p.ExpectSkipping("error", "upload_progress")
	e, _ := m["error"].(map[string]any)
	if m["id"] != id || e == nil || e["code"] != float64(code) {
		t.Fatalf("want error %d for %q, got %v", code, id, m)
	}
	return m
}

// pairingCode reads the pending code of (device, hub) as an operator does.
func (h *hub) pairingCode(device, hubID string) string {
	h.t.Helper()
	var code string
	waitFor(h.t, "pairing code listed", func() bool {
		st, _, raw := h.rest("GET", "/v1/pairings", adminToken, nil)
		if st != http.StatusOK {
			h.t.Fatalf("GET /v1/pairings: %d %s", st, raw)
		}
		for _, p := range decodeList(h.t, raw) {
			if p["device_id"] == device && p["hub_id"] == hubID {
				code, _ = p["code"].(string)
				if _, err := time.Parse(time.RFC3339, p["expires_at"].(string)); err != nil {
					h.t.Fatalf("expires_at not RFC 3339: %v", p)
				}
				return true
			}
		}
		return false
	})
	return code
}

// pair runs the whole handshake on a fresh controller socket and returns
// it with its token.
func (h *hub) pair(gw int, device, hubID string) (*peer, string) {
	h.t.Helper()
	c := h.controller(gw, device)
	c.MustSend(hubConnected("h1", hubID, ""))
	c.Expect("pairing_required")
	code := h.pairingCode(device, hubID)
	c.MustSend(req("p1", "pair_confirm", map[string]any{"code": code}))
	ok := c.Expect("pair_success")
	tok, _ := payload(ok)["token"].(string)
	if tok == "" {
		h.t.Fatalf("pair_success without token: %v", ok)
	}
	c.Expect("agent_status")
	return c, tok
}

func TestDevicePairing(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	d := h.connectDevice(0, "deck", true)
	c := h.controller(1, "deck")

	c.MustSend(req("r0", "get_info", nil))
	expectError(t, c, "r0", 401) // before hub_connected

	c.MustSend(hubConnected("h1", "hub-abc123", ""))
	pr := c.Expect("pairing_required")
	if pr["id"] != "h1" || payload(pr)["expiresIn"] != float64(60) || payload(pr)["code"] != "" {
		t.Fatalf("pairing_required: %v", pr)
	}
	shown := payload(d.Expect("device.pairing_code"))
	code := h.pairingCode("deck", "hub-abc123")
	if shown["code"] != code || shown["hub_id"] != "hub-abc123" || shown["expires_in"] != float64(60) || shown["hub_name"] != "CapyDeploy Hub" {
		t.Fatalf("device.pairing_code %v, listed code %s", shown, code)
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Fatalf("code %q is not 6 digits", code)
	}
	c.MustSend(req("r1", "get_info", nil))
	expectError(t, c, "r1", 401) // not paired yet

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	c.MustSend(req("p0", "pair_confirm", map[string]any{"code": wrong}))
	if f := c.Expect("pair_failed"); payload(f)["reason"] != "invalid code" || f["id"] != "p0" {
		t.Fatalf("wrong code: %v", f)
	}
	c.MustSend(req("p1", "pair_confirm", map[string]any{"code": code}))
	token, _ := payload(c.Expect("pair_success"))["token"].(string)
	st := c.Expect("agent_status")
	want := map[string]any{"name": "Steam Deck", "version": "0.1.0", "platform": "linux", "acceptConnections": true}
	for k, v := range want {
		if payload(st)[k] != v {
			t.Fatalf("agent_status %v, want %v", st, want)
		}
	}
	if token == "" {
		t.Fatal("no token")
	}
	// The code is single-use: another controller cannot use it.
	other := h.controller(0, "deck")
	other.MustSend(hubConnected("h1", "hub-other", ""))
	other.Expect("pairing_required")
	other.MustSend(req("p1", "pair_confirm", map[string]any{"code": code}))
	if f := other.Expect("pair_failed"); payload(f)["reason"] == "" {
		t.Fatalf("reused code: %v", f)
	}
	// 409: the same hubId again while connected, on the other gateway.
	dup := h.controller(0, "deck")
	dup.MustSend(hubConnected("h2", "hub-abc123", token))
	expectError(t, dup, "h2", 409)
	if code := dup.CloseCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("409 close code %d", code)
	}
	// JSON ping answered.
	c.MustSend(req("k1", "ping", nil))
	if p := c.Expect("pong"); p["id"] != "k1" {
		t.Fatalf("pong: %v", p)
	}
	// Stored token reconnect.
	_ = c.Conn.Close()
	var again *peer
	waitFor(t, "reconnect with the stored token", func() bool {
		again = h.controller(1, "deck")
		again.MustSend(hubConnected("h3", "hub-abc123", token))
		m := again.Next()
		if m["type"] == "agent_status" {
			return true
		}
		_ = again.Conn.Close() // 409 until the old socket's claim is released
		return false
	})
	// Admin revocation closes the live socket and the token stops working.
	if st, _, raw := h.rest("DELETE", "/v1/devices/deck/pairings/hub-abc123", adminToken, nil); st != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	expectError(t, again, "", 401)
	again.CloseCode()
	after := h.controller(1, "deck")
	after.MustSend(hubConnected("h4", "hub-abc123", token))
	after.Expect("pairing_required")
	if st, _, _ := h.rest("DELETE", "/v1/devices/deck/pairings/hub-abc123", adminToken, nil); st != http.StatusNotFound {
		t.Fatalf("second revoke: %d, want 404", st)
	}
	if st, _, _ := h.rest("GET", "/v1/pairings", clientToken, nil); st != http.StatusForbidden {
		t.Fatalf("GET /v1/pairings with a client token: %d", st)
	}
}

func TestDevicePairingExpiredAndRateLimited(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(map[string]string{
		"SY_DEVICE_PAIRING_CODE_TTL": "1s", "SY_DEVICE_PAIRING_PER_DEVICE": "3"})})
	h.connectDevice(0, "deck", true)
	c := h.controller(1, "deck")
	c.MustSend(hubConnected("h1", "hub-a", ""))
	if pr := c.Expect("pairing_required"); payload(pr)["expiresIn"] != float64(1) {
		t.Fatalf("expiresIn: %v", pr)
	}
	code := h.pairingCode("deck", "hub-a")
	waitFor(t, "the code to expire", func() bool {
		_, _, raw := h.rest("GET", "/v1/pairings", adminToken, nil)
		return len(decodeList(t, raw)) == 0
	})
	c.MustSend(req("p1", "pair_confirm", map[string]any{"code": code}))
	if f := c.Expect("pair_failed"); payload(f)["reason"] != "expired code" {
		t.Fatalf("expired code: %v", f)
	}
	// A new code, then wrong codes until the device's limit (3).
	c.MustSend(hubConnected("h2", "hub-a", ""))
	c.Expect("pairing_required")
	h.pairingCode("deck", "hub-a")
	for i := 0; i < 3; i++ {
		c.MustSend(req(fmt.Sprint("w", i), "pair_confirm", map[string]any{"code": "abcdef"}))
		if f := c.Expect("pair_failed"); payload(f)["reason"] != "invalid code" {
			t.Fatalf("wrong code %d: %v", i, f)
		}
	}
	c.MustSend(hubConnected("h3", "hub-a", ""))
	c.Expect("pairing_required")
	good := h.pairingCode("deck", "hub-a")
	c.MustSend(req("p2", "pair_confirm", map[string]any{"code": good}))
	if f := c.Expect("pair_failed"); !strings.Contains(payload(f)["reason"].(string), "too many") {
		t.Fatalf("rate limit: %v", f)
	}
}

func TestDeviceRefusesConnections(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	h.connectDevice(0, "closed", false)
	c := h.controller(1, "closed")
	c.MustSend(hubConnected("h1", "hub-a", ""))
	expectError(t, c, "h1", 406)
	c.CloseCode()

	h.connectDevice(0, "open", true)
	if st, _, raw := h.rest("PUT", "/v1/devices/open/accept", adminToken, map[string]any{"accept": false}); st != http.StatusOK {
		t.Fatalf("accept switch: %d %s", st, raw)
	}
	c2 := h.controller(1, "open")
	c2.MustSend(hubConnected("h1", "hub-a", ""))
	expectError(t, c2, "h1", 406)

	c3 := h.controller(1, "nosuch")
	c3.MustSend(hubConnected("h1", "hub-a", ""))
	expectError(t, c3, "h1", 404)
}

func TestDeviceOfflineTimeoutAndNotImplemented(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	d := h.connectDevice(0, "deck", true)
	c, _ := h.pair(1, "deck", "hub-a")

	// 501 from the device passes through with the controller's id.
	c.MustSend(req("x1", "delete_game", map[string]any{"gameName": "Celeste"}))
	r := payload(d.ExpectSkipping("device.request", "device.pairing_code"))
	if r["op"] != "delete_game" || r["hub_id"] != "hub-a" || payload(map[string]any{"payload": r["payload"]})["gameName"] != "Celeste" {
		t.Fatalf("device.request: %v", r)
	}
	d.MustSend(map[string]any{"type": "device.response", "ts": ts(), "payload": map[string]any{
		"request_id": r["request_id"], "op": "delete_game", "error": map[string]any{"code": 501, "message": "Not Implemented"}}})
	expectError(t, c, "x1", 501)

	// A custom answer type of an unknown op reaches the controller.
	c.MustSend(req("x2", "get_battery", nil))
	r = payload(d.Expect("device.request"))
	d.MustSend(map[string]any{"type": "device.response", "ts": ts(), "payload": map[string]any{
		"request_id": r["request_id"], "op": "get_battery", "type": "battery_response", "payload": map[string]any{"percent": 80}}})
	if m := c.Expect("battery_response"); m["id"] != "x2" || payload(m)["percent"] != float64(80) {
		t.Fatalf("battery_response: %v", m)
	}

	// No answer within the request timeout: 500, and the device is told.
	c.MustSend(req("t1", "get_info", nil))
	r = payload(d.Expect("device.request"))
	expectError(t, c, "t1", 500)
	if cancel := payload(d.Expect("device.cancel")); cancel["request_id"] != r["request_id"] {
		t.Fatalf("device.cancel: %v", cancel)
	}
	// A late answer is refused to the device, never shown.
	d.MustSend(map[string]any{"type": "device.response", "ts": ts(), "payload": map[string]any{
		"request_id": r["request_id"], "op": "get_info", "payload": map[string]any{}}})
	d.Expect("error")

	// Device offline: 404 at once.
	_ = d.Conn.Close()
	waitFor(t, "device offline", func() bool {
		c.MustSend(req("o1", "get_info", nil))
		m := c.Next()
		e, _ := m["error"].(map[string]any)
		return m["id"] == "o1" && e != nil && e["code"] == float64(404)
	})
}

// agentProc is the reference device agent, built and run as a process.
type agentProc struct {
	dir string
	log *bytes.Buffer
	cmd *exec.Cmd
}

var buildAgentOnce sync.Once
var agentBin string
var agentBuildErr error

func startAgent(t *testing.T, h *hub, gw int, id string) *agentProc {
	t.Helper()
	buildAgentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deviceagent-bin-")
		if err != nil {
			agentBuildErr = err
			return
		}
		agentBin = filepath.Join(dir, "deviceagent")
		if out, err := exec.Command("go", "build", "-o", agentBin, "../../services/examples/deviceagent").CombinedOutput(); err != nil {
			agentBuildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if agentBuildErr != nil {
		t.Fatalf("build deviceagent: %v", agentBuildErr)
	}
	a := &agentProc{dir: t.TempDir(), log: &bytes.Buffer{}}
	a.cmd = exec.Command(agentBin, "-hub", h.ws(gw, "/ws/runtime"), "-token", runtimeToken, "-id", id, "-dir", a.dir,
		"-name", "Test Deck", "-steam-users", "76561198012345678:Gamer")
	a.cmd.Stdout, a.cmd.Stderr = &syncWriter{w: a.log}, &syncWriter{w: a.log}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.cmd.Process.Kill(); _ = a.cmd.Wait() })
	waitFor(t, "device agent online", func() bool {
		st, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		if st != http.StatusOK {
			return false
		}
		for _, e := range decodeList(t, raw) {
			if e["id"] == id && e["online"] == true {
				return true
			}
		}
		return false
	})
	return a
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestDeviceRPCThroughReferenceAgent(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	a := startAgent(t, h, 0, "deck")
	c, _ := h.pair(1, "deck", "hub-a")

	call := func(id, typ string, p any, want string) map[string]any {
		t.Helper()
		c.MustSend(req(id, typ, p))
		m := c.Next()
		if m["id"] != id || m["type"] != want {
			t.Fatalf("%s: got %v (want %s)\nagent: %s", typ, m, want, a.log.String())
		}
		return payload(m)
	}
	info := call("1", "get_info", nil, "info_response")["agent"].(map[string]any)
	if info["id"] != "deck" || info["name"] != "Test Deck" || len(info["capabilities"].([]any)) == 0 {
		t.Fatalf("info: %v", info)
	}
	if cfg := call("2", "get_config", nil, "config_response"); cfg["installPath"] != a.dir {
		t.Fatalf("config: %v (dir %s)", cfg, a.dir)
	}
	users := call("3", "get_steam_users", nil, "steam_users_response")["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["id"] != "76561198012345678" {
		t.Fatalf("users: %v", users)
	}
	// userId as a number (list/create) and as a string (delete/artwork).
	c.MustSend(`{"id":"4","type":"create_shortcut","payload":{"userId":76561198012345678,"shortcut":{"name":"Celeste","exe":"/games/Celeste/Celeste.exe","startDir":"/games/Celeste"}}}`)
	created := c.Expect("operation_result")
	appID := payload(created)["appId"]
	if created["id"] != "4" || appID == nil {
		t.Fatalf("create_shortcut: %v", created)
	}
	c.MustSend(`{"id":"5","type":"list_shortcuts","payload":{"userId":76561198012345678}}`)
	list := payload(c.Expect("shortcuts_response"))["shortcuts"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "Celeste" {
		t.Fatalf("shortcuts: %v", list)
	}
	art := call("6", "apply_artwork", map[string]any{"userId": "76561198012345678", "appId": appID,
		"artwork": map[string]any{"grid": "https://example.invalid/g.png"}}, "artwork_response")
	if art["applied"] == nil {
		t.Fatalf("artwork: %v", art)
	}
	if del := call("7", "delete_shortcut", map[string]any{"userId": "76561198012345678", "appId": appID, "restartSteam": true}, "operation_result"); del["success"] != true {
		t.Fatalf("delete: %v", del)
	}
	if rs := call("8", "restart_steam", nil, "steam_response"); rs["success"] != true {
		t.Fatalf("restart: %v", rs)
	}
	c.MustSend(req("9", "delete_game", map[string]any{"gameName": "x"}))
	expectError(t, c, "9", 501)
}

// file is one file of a test upload.
type upFile struct {
	path string
	data []byte
}

func testFiles() []upFile {
	big := make([]byte, 3*testChunk+1234)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return []upFile{{"Celeste.exe", []byte("MZ fake executable")}, {"data/game.pak", big}, {"empty.txt", nil}}
}

func initUpload(t *testing.T, c *peer, id string, files []upFile) string {
	t.Helper()
	var decl []any
	var total int
	for _, f := range files {
		decl = append(decl, map[string]any{"relativePath": f.path, "size": len(f.data)})
		total += len(f.data)
	}
	c.MustSend(req(id, "init_upload", map[string]any{"config": map[string]any{"gameName": "Celeste", "installPath": "/ignored", "executable": "Celeste.exe"},
		"totalSize": total, "files": decl}))
	m := c.Expect("upload_init_response")
	if m["id"] != id || payload(m)["chunkSize"] != float64(testChunk) {
		t.Fatalf("upload_init_response: %v", m)
	}
	return payload(m)["uploadId"].(string)
}

func chunkFrame(t *testing.T, hdr map[string]any, data []byte) []byte {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	out := make([]byte, 4, 4+len(hb)+len(data))
	binary.BigEndian.PutUint32(out, uint32(len(hb)))
	return append(append(out, hb...), data...)
}

func sendBinary(t *testing.T, c *peer, b []byte) {
	t.Helper()
	if err := c.Conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatalf("write chunk: %v", err)
	}
}

// sendChunks sends every chunk of files that skip does not exclude and
// waits for each acknowledgement.
func sendChunks(t *testing.T, c *peer, uploadID string, files []upFile, skip func(path string, off int) bool) {
	t.Helper()
	n := 0
	for _, f := range files {
		for off := 0; off < len(f.data); off += testChunk {
			if skip != nil && skip(f.path, off) {
				continue
			}
			part := f.data[off:min(off+testChunk, len(f.data))]
			hdr := map[string]any{"id": fmt.Sprint("c", n), "uploadId": uploadID, "filePath": f.path, "offset": off}
			if n%2 == 0 {
				sum := sha256.Sum256(part)
				hdr["checksum"] = hex.EncodeToString(sum[:])
			}
			sendBinary(t, c, chunkFrame(t, hdr, part))
			ack := c.ExpectSkipping("upload_chunk_response", "upload_progress")
			if ack["id"] != fmt.Sprint("c", n) || payload(ack)["bytesWritten"] != float64(len(part)) || payload(ack)["uploadId"] != uploadID {
				t.Fatalf("chunk ack: %v", ack)
			}
			n++
		}
	}
}

func checkInstalled(t *testing.T, dir string, files []upFile) {
	t.Helper()
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, "Celeste", filepath.FromSlash(f.path)))
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("installed %s: %d bytes, want %d (err %v)", f.path, len(got), len(f.data), err)
		}
	}
}

// completeAndInstall sends complete_upload and reads operation_events
// until operation_result.
func completeAndInstall(t *testing.T, c *peer, id, uploadID string, a *agentProc) map[string]any {
	t.Helper()
	c.MustSend(req(id, "complete_upload", map[string]any{"uploadId": uploadID, "createShortcut": true,
		"shortcut": map[string]any{"name": "Celeste", "exe": "Celeste.exe"}}))
	var events []string
	for {
		m := c.Next()
		switch m["type"] {
		case "operation_event":
			events = append(events, payload(m)["status"].(string))
			if payload(m)["gameName"] != "Celeste" {
				t.Fatalf("operation_event: %v", m)
			}
			continue
		case "upload_progress":
			continue
		case "operation_result":
			if m["id"] != id {
				t.Fatalf("operation_result id: %v", m)
			}
			if len(events) < 2 || events[0] != "start" || events[len(events)-1] != "complete" {
				t.Fatalf("operation_events %v", events)
			}
			return payload(m)
		}
		t.Fatalf("complete_upload: %v\nagent: %s", m, a.log.String())
	}
}

func TestDeviceUploadCompleteInstallsFiles(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	a := startAgent(t, h, 0, "deck")
	// A client token makes the uploads alice's (GET /files/{id}).
	c := dial(t, h.ws(1, "/ws/device/deck?token="+clientToken))
	c.MustSend(hubConnected("h1", "hub-a", ""))
	c.Expect("pairing_required")
	c.MustSend(req("p1", "pair_confirm", map[string]any{"code": h.pairingCode("deck", "hub-a")}))
	c.Expect("pair_success")
	c.Expect("agent_status")

	files := testFiles()
	up := initUpload(t, c, "i1", files)
	sendChunks(t, c, up, files, nil)
	res := completeAndInstall(t, c, "done", up, a)
	if res["success"] != true || res["path"] != filepath.Join(a.dir, "Celeste") || res["appId"] == nil {
		t.Fatalf("operation_result: %v", res)
	}
	checkInstalled(t, a.dir, files)
	// The shortcut was created for the agent's Steam user.
	c.MustSend(`{"id":"l","type":"list_shortcuts","payload":{"userId":76561198012345678}}`)
	sc := payload(c.Expect("shortcuts_response"))["shortcuts"].([]any)
	if len(sc) != 1 || sc[0].(map[string]any)["exe"] != filepath.Join(a.dir, "Celeste", "Celeste.exe") {
		t.Fatalf("shortcut: %v", sc)
	}
	// Stored files are readable by their owner through GET /files/{id}.
	resp, body := getFile(t, h, up+"-f1", clientToken)
	if resp != http.StatusOK || !bytes.Equal(body, files[1].data) {
		t.Fatalf("GET /files: %d, %d bytes", resp, len(body))
	}
	if st, _ := getFile(t, h, up+"-f1", bobToken); st != http.StatusForbidden {
		t.Fatalf("GET /files by another user: %d", st)
	}
}

func getFile(t *testing.T, h *hub, id, token string) (int, []byte) {
	t.Helper()
	rq, _ := http.NewRequest("GET", h.gateways[0]+"/files/"+id, nil)
	rq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestDeviceUploadResumeAfterControllerGatewayKilled(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	a := startAgent(t, h, 0, "deck")
	url, kill := h.gatewayPod("gw-doomed")
	c := dial(t, "ws"+strings.TrimPrefix(url, "http")+"/ws/device/deck")
	c.MustSend(hubConnected("h1", "hub-a", ""))
	c.Expect("pairing_required")
	c.MustSend(req("p1", "pair_confirm", map[string]any{"code": h.pairingCode("deck", "hub-a")}))
	token := payload(c.Expect("pair_success"))["token"].(string)
	c.Expect("agent_status")

	files := testFiles()
	up := initUpload(t, c, "i1", files)
	// Half of the big file, and the small one.
	sendChunks(t, c, up, files, func(p string, off int) bool { return p == "data/game.pak" && off >= 2*testChunk })
	kill()
	c.CloseCode()

	r := dial(t, h.ws(1, "/ws/device/deck"))
	r.MustSend(hubConnected("h2", "hub-a", token))
	r.Expect("agent_status")
	r.MustSend(req("s1", "get_upload_status", map[string]any{"uploadId": up}))
	st := payload(r.Expect("upload_status_response"))
	if st["uploadId"] != up || st["totalWritten"] != float64(len(files[0].data)+2*testChunk) {
		t.Fatalf("status: %v", st)
	}
	stored := map[string][]any{}
	for _, f := range st["files"].([]any) {
		fm := f.(map[string]any)
		stored[fm["path"].(string)] = fm["ranges"].([]any)
	}
	if fmt.Sprint(stored["data/game.pak"]) != fmt.Sprint([]any{[]any{0.0, float64(2 * testChunk)}}) || len(stored["empty.txt"]) != 0 {
		t.Fatalf("ranges: %v", stored)
	}
	// Send only what is missing, then complete.
	sendChunks(t, r, up, files, func(p string, off int) bool { return p != "data/game.pak" || off < 2*testChunk })
	res := completeAndInstall(t, r, "done", up, a)
	if res["success"] != true {
		t.Fatalf("operation_result: %v", res)
	}
	checkInstalled(t, a.dir, files)
}

func TestDeviceUploadBadInputAndCancel(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: deviceEnv(nil)})
	h.connectDevice(0, "deck", true)
	c, _ := h.pair(1, "deck", "hub-a")
	files := []upFile{{"a.bin", bytes.Repeat([]byte("a"), 1000)}}
	up := initUpload(t, c, "i1", files)
	good := files[0].data[:500]
	sendBinary(t, c, chunkFrame(t, map[string]any{"id": "ok1", "uploadId": up, "filePath": "a.bin", "offset": 0}, good))
	c.Expect("upload_chunk_response")

	cases := []struct {
		name  string
		frame []byte
		id    string
		code  int
	}{
		{"wrong checksum", chunkFrame(t, map[string]any{"id": "b1", "uploadId": up, "filePath": "a.bin", "offset": 500, "checksum": strings.Repeat("0", 64)}, good), "b1", 400},
		{"offset outside file", chunkFrame(t, map[string]any{"id": "b2", "uploadId": up, "filePath": "a.bin", "offset": 5000}, []byte("x")), "b2", 400},
		{"length outside file (more than totalSize)", chunkFrame(t, map[string]any{"id": "b3", "uploadId": up, "filePath": "a.bin", "offset": 900}, good), "b3", 400},
		{"unknown uploadId", chunkFrame(t, map[string]any{"id": "b4", "uploadId": "upload-nosuch", "filePath": "a.bin", "offset": 0}, []byte("x")), "b4", 404},
		{"unknown filePath", chunkFrame(t, map[string]any{"id": "b5", "uploadId": up, "filePath": "b.bin", "offset": 0}, []byte("x")), "b5", 404},
		{"header length exceeds frame", append([]byte{0, 0, 1, 0}, []byte(`{"id":"b6"}`)...), "", 400},
		{"header not JSON", append([]byte{0, 0, 0, 5}, []byte("hello")...), "", 400},
		{"chunk over the limit", chunkFrame(t, map[string]any{"id": "b8", "uploadId": up, "filePath": "a.bin", "offset": 0}, make([]byte, testChunk+1)), "b8", 400},
		{"frame shorter than 4 bytes", []byte{0, 1}, "", 400},
	}
	for _, tc := range cases {
		sendBinary(t, c, tc.frame)
		m := c.ExpectSkipping("error", "upload_progress")
		e := m["error"].(map[string]any)
		if m["id"] != tc.id || e["code"] != float64(tc.code) {
			t.Fatalf("%s: %v (want %d)", tc.name, m, tc.code)
		}
	}
	// Socket open, nothing acknowledged lost.
	c.MustSend(req("s", "get_upload_status", map[string]any{"uploadId": up}))
	st := payload(c.Expect("upload_status_response"))
	if st["totalWritten"] != float64(500) {
		t.Fatalf("after bad chunks: %v", st)
	}
	// Bad text frames.
	c.MustSend("not json")
	expectError(t, c, "", 400)
	c.MustSend(req("bad", "init_upload", map[string]any{"config": map[string]any{"gameName": "../x"}, "files": []any{map[string]any{"relativePath": "a", "size": 1}}}))
	expectError(t, c, "bad", 400)
	c.MustSend(req("st", "get_upload_status", map[string]any{"uploadId": "upload-nosuch"}))
	expectError(t, c, "st", 404)
	c.MustSend(req("cu", "complete_upload", map[string]any{"uploadId": up}))
	expectError(t, c, "cu", 400) // incomplete

	// cancel_upload discards everything.
	c.MustSend(req("x", "cancel_upload", map[string]any{"uploadId": up}))
	if r := c.Expect("operation_result"); r["id"] != "x" || payload(r)["success"] != true {
		t.Fatalf("cancel: %v", r)
	}
	c.MustSend(req("s2", "get_upload_status", map[string]any{"uploadId": up}))
	expectError(t, c, "s2", 404)
}

func TestDeviceCompatListener(t *testing.T) {
	h := startHub(t, hubOptions{env: deviceEnv(nil)})
	if h.st.DeviceURL == "" {
		t.Fatal("the dev stack has no device compatibility listener")
	}
	none := dial(t, h.st.DeviceURL)
	if m := none.Next(); m["error"].(map[string]any)["code"] != float64(404) {
		t.Fatalf("no device online: %v", m)
	}
	h.connectDevice(0, "deck", true)
	c := dial(t, h.st.DeviceURL)
	c.MustSend(hubConnected("h1", "hub-a", ""))
	c.Expect("pairing_required")
	if code := h.pairingCode("deck", "hub-a"); code == "" {
		t.Fatal("no code")
	}
	h.connectDevice(0, "deck2", true)
	two := dial(t, h.st.DeviceURL)
	m := two.Next()
	if e := m["error"].(map[string]any); e["code"] != float64(404) || !strings.Contains(e["message"].(string), "several devices") {
		t.Fatalf("two devices online: %v", m)
	}
	two.CloseCode()
}
