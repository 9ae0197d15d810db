package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/upload"
)

// Push channels (document 000): /notification and /statechange readers
// on two gateways see the events of the whole cluster they may see.

func pushEnv() map[string]string {
	return map[string]string{"SY_ADMIN_TOKENS": adminToken + "=ops"}
}

// pushReader dials a push channel on gateway gw with the query q.
func (h *hub) pushReader(gw int, path, q string) *peer {
	h.t.Helper()
	if q != "" {
		q = "?" + q
	}
	return dial(h.t, h.ws(gw, path+q))
}

var syncSeq atomic.Int64

// pushSync waits until every /notification reader receives a hub-wide
// marker (its pod's subscription is live): an admin notification is sent
// again until each has seen one. /statechange readers are synced through
// notification readers of the same pod (one subscription per pod).
func (h *hub) pushSync(readers ...*peer) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	pending := readers
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d push readers never received an event", len(pending))
		}
		marker := fmt.Sprintf("sync-%d", syncSeq.Add(1))
		if st, b := h.call(0, "POST", "/v1/notifications", adminToken, map[string]any{"message": marker, "category": "sync"}); st != http.StatusAccepted {
			h.t.Fatalf("POST /v1/notifications: %d %v", st, b)
		}
		var still []*peer
		for _, p := range pending {
			if !seenWithin(p, 300*time.Millisecond, func(m map[string]any) bool { return dataOf(m)["Message"] == marker }) {
				still = append(still, p)
			}
		}
		pending = still
	}
}

// seenWithin reads frames until one matches, for at most d.
func seenWithin(p *peer, d time.Duration, match func(map[string]any) bool) bool {
	end := time.After(d)
	for {
		select {
		case m, ok := <-p.Frames:
			if !ok {
				return false
			}
			if match(m) {
				return true
			}
		case <-end:
			return false
		}
	}
}

func dataOf(m map[string]any) map[string]any {
	d, _ := m["Data"].(map[string]any)
	return d
}

// waitPush returns the first frame that matches, skipping others; it
// fails the test after waitLimit. seen collects the skipped frames.
func waitPush(t *testing.T, p *peer, what string, match func(map[string]any) bool, seen *[]map[string]any) map[string]any {
	t.Helper()
	end := time.After(waitLimit)
	for {
		select {
		case m, ok := <-p.Frames:
			if !ok {
				t.Fatalf("socket closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
			if seen != nil {
				*seen = append(*seen, m)
			}
		case <-end:
			t.Fatalf("no %s within %s", what, waitLimit)
		}
	}
}

func isType(n float64, also func(map[string]any) bool) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["Type"] == n && (also == nil || also(dataOf(m))) }
}

// marker is a hub-wide admin notification; everything published before
// it by the same gateway reaches a reader before it.
func (h *hub) marker(t *testing.T) string {
	t.Helper()
	msg := fmt.Sprintf("marker-%d", syncSeq.Add(1))
	if st, b := h.call(0, "POST", "/v1/notifications", adminToken, map[string]any{"message": msg, "category": "sync"}); st != http.StatusAccepted {
		t.Fatalf("POST /v1/notifications: %d %v", st, b)
	}
	return msg
}

// untilMarker returns every frame before the marker.
func untilMarker(t *testing.T, p *peer, msg string) []map[string]any {
	t.Helper()
	var seen []map[string]any
	waitPush(t, p, "marker "+msg, isType(2, func(d map[string]any) bool { return d["Message"] == msg }), &seen)
	return seen
}

// states returns the State of each /statechange frame of path until last.
func states(t *testing.T, p *peer, path string, last float64) []float64 {
	t.Helper()
	var out []float64
	for {
		m := waitPush(t, p, fmt.Sprintf("state %v of %s", last, path), func(m map[string]any) bool { return m["Path"] == path }, nil)
		if len(m) != 3 || m["StorageName"] == nil {
			t.Fatalf("statechange frame %v: want exactly Path, StorageName, State", m)
		}
		out = append(out, m["State"].(float64))
		if m["State"] == last {
			return out
		}
	}
}

func equalFloats(a, b []float64) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// TestPushNotificationsAcrossGateways: readers on two gateways get every
// Type from sources on the other gateway and the upload service, scoped:
// alice sees hers and hub-wide events, bob none of alice's, the admin all.
func TestPushNotificationsAcrossGateways(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: pushEnv()})
	admin := h.pushReader(1, "/notification", "token="+adminToken)
	alice := h.pushReader(1, "/notification", "token="+clientToken)
	bob := h.pushReader(0, "/notification", "token="+bobToken)
	h.pushSync(admin, alice, bob)

	// UserNotification: a runtime online (hub-wide), seen by everyone.
	rt := h.connectRuntime(0, "rt-push", "ep-push")
	online := isType(2, func(d map[string]any) bool { return d["Title"] == "Runtime online" })
	// Every frame bob's reader skips is kept: none may be alice's.
	var bobSaw []map[string]any
	skipped := func(p *peer) *[]map[string]any {
		if p == bob {
			return &bobSaw
		}
		return nil
	}
	for _, p := range []*peer{admin, alice, bob} {
		m := waitPush(t, p, "runtime online", online, skipped(p))
		d := dataOf(m)
		if d["Category"] != "runtime" || d["Message"] != "Runtime rt-push is online" || fmt.Sprint(d["Details"]) != "map[online:true runtime_id:rt-push]" {
			t.Fatalf("runtime online: %v", m)
		}
	}

	// AppNotification after a non-GET REST call: alice's (and the admin's).
	sid := h.createSession(rt, "ep-push", clientToken)
	app := isType(4, func(d map[string]any) bool { return d["EndpointAddress"] == "/v1/sessions" })
	for _, p := range []*peer{admin, alice} {
		m := waitPush(t, p, "AppNotification POST /v1/sessions", app, nil)
		want := map[string]any{"Operation": "POST /v1/sessions", "EndpointAddress": "/v1/sessions", "HttpMethod": "POST", "Origin": ""}
		if fmt.Sprint(dataOf(m)) != fmt.Sprint(want) || len(m) != 2 {
			t.Fatalf("AppNotification %v, want Data %v", m, want)
		}
	}
	// Origin is the X-App-Origin header.
	req, _ := http.NewRequest("POST", h.gateways[0]+"/v1/notifications", strings.NewReader(`{"message":"from the console","user_id":"alice"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("X-App-Origin", "ops-console")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/notifications: %v %v", resp, err)
	}
	m := waitPush(t, admin, "AppNotification with origin", isType(4, func(d map[string]any) bool { return d["Origin"] == "ops-console" }), nil)
	if d := dataOf(m); d["HttpMethod"] != "POST" || d["EndpointAddress"] != "/v1/notifications" || d["Operation"] != "POST /v1/notifications" {
		t.Fatalf("AppNotification %v", m)
	}
	// The admin's message to alice: alice's reader only (and the admin's).
	m = waitPush(t, alice, "admin message", isType(2, func(d map[string]any) bool { return d["Message"] == "from the console" }), nil)
	if d := dataOf(m); d["Category"] != "admin" || d["Title"] != "" {
		t.Fatalf("admin message %v", m)
	}

	// Progress: alice's POST /files on gateway 0 (Upload), then her GET.
	content := []byte(strings.Repeat("push channel bytes ", 100))
	st, body, raw := h.fileUpload(0, "/v1/files", clientToken, fileSessionField(sid),
		filePart{field: "file", filename: "report.txt", contentType: "text/plain", data: content})
	if st != http.StatusCreated {
		t.Fatalf("POST /v1/files: %d %s", st, raw)
	}
	fileID := body["file_id"].(string)
	path := sid + "/report.txt"
	completed := func(mode string) func(map[string]any) bool {
		return isType(1, func(d map[string]any) bool {
			return d["TransferMode"] == mode && d["Path"] == path && d["Status"] == "Completed"
		})
	}
	for _, p := range []*peer{admin, alice} {
		m := waitPush(t, p, "Upload Completed", completed("Upload"), nil)
		d := dataOf(m)
		if d["Bytes"] != float64(len(content)) || d["Size"] != float64(len(content)) || d["TransferId"] != fileID || d["Error"] != nil ||
			d["Name"] != "report.txt" || d["StorageName"] != "sy_files" || d["StorageType"] != "ObjectStore" || len(d) != 14 {
			t.Fatalf("Upload Completed %v", m)
		}
	}
	resp, got := h.fileDownload(0, "/v1/files/"+fileID, clientToken)
	if resp.StatusCode != http.StatusOK || string(got) != string(content) {
		t.Fatalf("GET /v1/files: %d", resp.StatusCode)
	}
	m = waitPush(t, alice, "Download Completed", completed("Download"), nil)
	if d := dataOf(m); d["Bytes"] != float64(len(content)) || !strings.HasPrefix(fmt.Sprint(d["TransferId"]), "dl-") {
		t.Fatalf("Download Completed %v", m)
	}

	// AppUpdateProgress: the runtime's agent.update_progress, as sent.
	rt.MustSend(map[string]any{"type": "agent.update_progress", "ts": ts(), "payload": map[string]any{"state": "downloading", "percent": 42, "version": "1.4.0"}})
	for _, p := range []*peer{admin, alice, bob} {
		m := waitPush(t, p, "AppUpdateProgress", isType(8, nil), skipped(p))
		if fmt.Sprint(dataOf(m)) != "map[percent:42 state:downloading version:1.4.0]" {
			t.Fatalf("AppUpdateProgress %v", m)
		}
	}

	// The runtime leaves: offline, hub-wide.
	_ = rt.Conn.Close()
	for _, p := range []*peer{admin, bob} {
		waitPush(t, p, "runtime offline", isType(2, func(d map[string]any) bool { return d["Message"] == "Runtime rt-push is offline" }), skipped(p))
	}

	// Scoping: bob saw none of alice's events (all published by gateway 0
	// before the marker).
	for _, m := range append(bobSaw, untilMarker(t, bob, h.marker(t))...) {
		d := dataOf(m)
		if m["Type"] == 1.0 || m["Type"] == 4.0 || d["Message"] == "from the console" {
			t.Fatalf("bob saw alice's event %v", m)
		}
	}
}

// TestPushUploadServiceStates: the upload service's transfers and every
// state it emits reach /statechange and /notification readers on another
// gateway, and alice's reader on bob's never does.
func TestPushUploadServiceStates(t *testing.T) {
	h := startHub(t, hubOptions{extraGateways: 1, env: pushEnv()})
	aliceN := h.pushReader(1, "/notification", "token="+clientToken+"&types=1,2")
	aliceS := h.pushReader(1, "/statechange", "token="+clientToken)
	bobS := h.pushReader(0, "/statechange", "token="+bobToken)
	adminS := h.pushReader(0, "/statechange", "token="+adminToken)
	bobN := h.pushReader(0, "/notification", "token="+bobToken)
	// Every reader registered (a reader joins its pod's list after the
	// upgrade, on its own goroutine), then the pods' one subscription each
	// is live.
	waitFor(t, "3 push readers on gateway 0", func() bool { return strings.Contains(h.metrics(0), "switchyard_gateway_push_readers 3\n") })
	waitFor(t, "2 push readers on gateway 1", func() bool { return strings.Contains(h.metrics(1), "switchyard_gateway_push_readers 2\n") })
	h.pushSync(aliceN, bobN)

	b := testenv.Bus(t, h.st.NATSURL, "push-test-device")
	uc := upload.NewClient(b, upload.ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	data := []byte(strings.Repeat("x", 3000))
	init, err := uc.Init(ctx, upload.InitRequest{OwnerUserID: "alice", DeviceID: "deck-1", HubID: "hub-1", Config: json.RawMessage(`{}`),
		TotalSize: int64(len(data)), Files: []upload.FileSpec{{Path: "saves/slot1.sav", Size: int64(len(data))}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uc.PutChunk(ctx, upload.Chunk{UploadID: init.UploadID, FilePath: "saves/slot1.sav", Data: data, UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Complete(ctx, init.UploadID, "alice"); err != nil {
		t.Fatal(err)
	}
	path := init.UploadID + "/saves/slot1.sav"
	if got, want := states(t, aliceS, path, 0), []float64{1, 4, 0}; !equalFloats(got, want) {
		t.Fatalf("states of an upload %v, want Temporary, Uploading, Normal %v", got, want)
	}
	m := waitPush(t, aliceN, "upload Completed", isType(1, func(d map[string]any) bool { return d["Path"] == path && d["Status"] == "Completed" }), nil)
	if d := dataOf(m); d["TransferMode"] != "Upload" || d["Bytes"] != 3000.0 || d["StorageName"] != "sy_uploads" || d["Name"] != "slot1.sav" {
		t.Fatalf("upload Completed %v", m)
	}

	// Served by GET /files/{id} through gateway 0: Reading, then Normal.
	fileID := upload.FileID(init.UploadID, 0)
	if resp, got := h.fileDownload(0, "/v1/files/"+fileID, clientToken); resp.StatusCode != http.StatusOK || string(got) != string(data) {
		t.Fatalf("GET /v1/files/%s: %d", fileID, resp.StatusCode)
	}
	if got, want := states(t, aliceS, path, 0), []float64{128, 0}; !equalFloats(got, want) {
		t.Fatalf("states while read %v, want %v", got, want)
	}
	// bob may not read or delete it.
	if resp, _ := h.fileDownload(0, "/v1/files/"+fileID, bobToken); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob's GET: %d", resp.StatusCode)
	}
	if st, b := h.call(0, "DELETE", "/v1/files/"+fileID, bobToken, nil); st != http.StatusForbidden {
		t.Fatalf("bob's DELETE: %d %v", st, b)
	}
	// DELETE by the owner: Deleting, then Deleted.
	if st, b := h.call(0, "DELETE", "/v1/files/"+fileID, clientToken, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", st, b)
	}
	if got, want := states(t, aliceS, path, 64), []float64{8, 64}; !equalFloats(got, want) {
		t.Fatalf("states on delete %v, want %v", got, want)
	}
	if got := states(t, adminS, path, 64); len(got) != 7 {
		t.Fatalf("admin saw states %v, want all 7", got)
	}
	// The ?types=1,2 reader got no AppNotification (the DELETE calls).
	for _, m := range untilMarker(t, aliceN, h.marker(t)) {
		if m["Type"] != 1.0 && m["Type"] != 2.0 {
			t.Fatalf("types=1,2 reader got %v", m)
		}
	}
	// bob's state reader saw none of alice's file.
	mk := h.marker(t)
	untilMarker(t, bobN, mk)
	select {
	case m := <-bobS.Frames:
		t.Fatalf("bob's /statechange got %v", m)
	default:
	}
}

// TestPushChannelRules: 400 without an upgrade or with a bad filter, 403
// for a foreign browser Origin, 1008 for a bad token, frames a reader
// sends are ignored, a slow reader is dropped with 4008, and a drain
// closes readers with 1000.
func TestPushChannelRules(t *testing.T) {
	env := pushEnv()
	env["SY_SEND_QUEUE_FRAMES"] = "8"
	env["SY_PUSH_ALLOWED_ORIGINS"] = "https://console.example"
	h := startHub(t, hubOptions{extraGateways: 1, env: env})
	for _, p := range []string{"/notification", "/statechange", "/notification?types=1"} {
		resp, err := http.Get(h.gateways[1] + p)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("GET %s without upgrade: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	for q, want := range map[string]int{"?types=16": 400, "?types=x": 400} {
		_, resp, err := websocket.DefaultDialer.Dial(h.ws(1, "/notification"+q), nil)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Fatalf("filter %s: %v %v, want %d", q, resp, err, want)
		}
	}
	hdr := http.Header{"Origin": {"https://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial(h.ws(1, "/notification?token="+clientToken), hdr); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
	hdr = http.Header{"Origin": {"https://console.example"}}
	okOrigin, _, err := websocket.DefaultDialer.Dial(h.ws(1, "/notification?token="+clientToken), hdr)
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	okOrigin.Close()
	if code := h.pushReader(1, "/notification", "token=nope").CloseCode(); code != 1008 {
		t.Fatalf("unknown token: close %d, want 1008", code)
	}

	// A reader that writes (text, binary, junk) is ignored and goes on.
	chatty := h.pushReader(1, "/notification", "token="+clientToken)
	chatty.MustSend(`{"type":"client.subscribe"}`)
	chatty.MustSend("not json")
	if err := chatty.Conn.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	// A slow reader (never reads) on the same pod.
	slow, _, err := smallBufferDialer().Dial(h.ws(1, "/notification?token="+adminToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	h.pushSync(chatty)
	// Large events fill the slow reader's socket and its 8-frame queue.
	big := strings.Repeat("m", 4000)
	drops := func() bool {
		for i := 0; i < 50; i++ {
			h.call(0, "POST", "/v1/notifications", adminToken, map[string]any{"message": big, "category": "flood", "user_id": "nobody"})
		}
		return strings.Contains(h.metrics(1), `switchyard_gateway_slow_consumer_drops_total{dialect="push"}`)
	}
	deadline := time.Now().Add(waitLimit)
	for !drops() {
		if time.Now().After(deadline) {
			t.Fatal("the slow reader was never dropped")
		}
	}
	_ = slow.SetReadDeadline(time.Now().Add(waitLimit))
	var closeCode int
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				closeCode = ce.Code
			}
			break
		}
	}
	// 4008 when the close frame got through; when the reader's TCP window
	// stayed full the hub ends the connection after the close grace
	// without one (the drop itself is counted above either way).
	if closeCode != 4008 && closeCode != 0 && closeCode != websocket.CloseAbnormalClosure {
		t.Fatalf("slow reader closed with %d, want 4008 (or no close frame)", closeCode)
	}
	// The chatty reader still gets events.
	h.pushSync(chatty)

	// Drain (what SIGTERM does): readers close with 1000.
	url, stop := h.gatewayPod("gw-drain")
	n := dial(t, "ws"+strings.TrimPrefix(url, "http")+"/notification?token="+clientToken)
	s := dial(t, "ws"+strings.TrimPrefix(url, "http")+"/statechange?token="+clientToken)
	h.pushSync(n)
	stop()
	for _, p := range []*peer{n, s} {
		if code := p.CloseCode(); code != 1000 {
			t.Fatalf("drain closed a reader with %d, want 1000", code)
		}
	}
}

// smallBufferDialer dials with a 4 KiB receive buffer, so a reader that
// does not read backs up the hub's writes quickly.
func smallBufferDialer() *websocket.Dialer {
	nd := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: waitLimit}
}

// metrics is gateway gw's /metrics text.
func (h *hub) metrics(gw int) string {
	h.t.Helper()
	resp, err := http.Get(h.gateways[gw] + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
