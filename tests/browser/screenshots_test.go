package browser

import (
	"bytes"
	"flag"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

var update = flag.Bool("update", false, "rewrite the console screenshots in docs/console/")

// TestScreenshots writes the screenshots of the main views, at desktop
// and phone size, that README.md shows:
//
//	go test ./tests/browser -run TestScreenshots -update
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("screenshots are rewritten only with -update (go test ./tests/browser -run TestScreenshots -update)")
	}
	chromium(t)
	h := startHub(t)
	startShellRuntime(t, h.gw0)
	rt := connectTestRuntime(t, h.gw0)
	ctx := startBrowser(t, 1280, 800)
	base := "http://" + h.gw0
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sizes := []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}}
	shoot := func(view string) {
		t.Helper()
		for _, s := range sizes {
			run(t, ctx, "viewport", chromedp.EmulateViewport(s.width, s.height, chromedp.EmulateScale(1)))
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("screenshot %s: %v", view, err)
			}
			if err := os.WriteFile(filepath.Join(dir, view+"-"+s.name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, ctx, "viewport", chromedp.EmulateViewport(1280, 800, chromedp.EmulateScale(1)))
	}

	run(t, ctx, "open", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("client-token")))
	shoot("signin")
	signIn(t, ctx, base, true)

	// A shell session with a little output.
	run(t, ctx, "sessions", chromedp.Navigate(base+"/console/#/sessions"))
	until(t, ctx, "shell offered", `!!document.querySelector('#create-endpoint option[value="shell"]')`)
	run(t, ctx, "create", chromedp.SetValue(chromedp.ID("create-endpoint"), "shell"),
		chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)))
	until(t, ctx, "subscribed", `!!document.getElementById('transcript') && document.getElementById('transcript').dataset.replayed === 'true'`)
	run(t, ctx, "echo", chromedp.SendKeys(chromedp.ID("message"), "echo hello; uname -s"+kb.Enter))
	until(t, ctx, "turn done", `document.getElementById('transcript').textContent.includes('turn completed')`)

	// A session on the test runtime: output with a long line, a file from
	// the runtime and a pending permission prompt.
	run(t, ctx, "sessions", chromedp.Navigate(base+"/console/#/sessions"))
	until(t, ctx, "probe offered", `!!document.querySelector('#create-endpoint option[value="probe"]')`)
	run(t, ctx, "create", chromedp.SetValue(chromedp.ID("create-endpoint"), "probe"),
		chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)))
	sid := rt.acceptSession()
	until(t, ctx, "subscribed", `document.getElementById('transcript') && document.getElementById('transcript').dataset.replayed === 'true'`)
	run(t, ctx, "message", chromedp.SendKeys(chromedp.ID("message"), "build the report"+kb.Enter))
	turn := rt.startTurn(sid, "build the report")
	if err := rt.lines(sid, 1, 3); err != nil {
		t.Fatal(err)
	}
	rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "message_id": "long", "channel": "stdout", "final": false,
		"content": "a long line wraps instead of breaking the layout: " + strings.Repeat("0123456789", 30) + "\n"}})
	rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "metadata": map[string]any{"file_id": "report-1", "name": "report.csv", "mime_type": "text/csv", "size": 12},
		"data": "YSxiLGMKMSwyLDMK"}})
	rt.MustSend(map[string]any{"type": "permission.request", "session_id": sid, "ts": ts(), "payload": map[string]any{
		"session_id": sid, "request_id": "req-shot", "tool": "Bash", "description": "Execute: rm -rf /tmp/build", "resource": "/tmp/build"}})
	until(t, ctx, "prompt shown", `!!document.querySelector('.permission.pending[data-request="req-shot"]') && !!document.querySelector('#files li[data-file="report-1"]')`)
	shoot("session")
	_ = turn

	run(t, ctx, "endpoints", chromedp.Navigate(base+"/console/#/endpoints"))
	until(t, ctx, "endpoints", `document.querySelectorAll('#endpoints .dot.on').length === 2`)
	shoot("endpoints")
	run(t, ctx, "sessions", chromedp.Navigate(base+"/console/#/sessions"))
	until(t, ctx, "sessions", `document.querySelectorAll('#sessions tr[data-session]').length === 2`)
	shoot("sessions")
	run(t, ctx, "cluster", chromedp.Navigate(base+"/console/#/cluster"))
	until(t, ctx, "cluster", `!!document.querySelector('#pod-table tr[data-pod]') && !!document.querySelector('#rates tr[data-metric]')`)
	shoot("cluster")

	// Live feed: the events of a few REST calls, as they arrive. On a hub
	// without push channels the view shows its "not available" state.
	pushed := !routeMissing(t, "GET", base+"/notification", "")
	run(t, ctx, "feed", chromedp.Navigate(base+"/console/#/feed"))
	if pushed {
		until(t, ctx, "feed open", `document.getElementById('feed-state').dataset.state === 'open'`)
		for i := 0; i < 20 && !waitBriefly(ctx, `!!document.querySelector('#feed-list li[data-type="2"]')`, time.Second); i++ {
			postNotification(t, base, map[string]any{"title": "Maintenance", "message": "gateway gw-2 drains at 18:00 UTC", "category": "admin"})
		}
		uploadFile(t, base, sid, "build.log", 48<<10)
		rt.Expect("file.upload")
		_, _ = rest(t, "POST", base+"/v1/sessions", clientToken, strings.NewReader(`{"endpoint_id":"offline-box"}`), "application/json")
		postNotification(t, base, map[string]any{"title": "Quota", "message": "alice used 80% of her hourly bytes", "user_id": "alice"})
		until(t, ctx, "events", `document.querySelectorAll('#feed-list li').length >= 5`)
	} else {
		until(t, ctx, "feed unavailable", `document.getElementById('feed-state').dataset.state === 'unavailable'`)
	}
	shoot("feed")

	// Devices: the reference agent, a controller waiting for its code and
	// an upload in flight.
	startDeviceAgent(t, h.gw0, "steamdeck", "Living-room Deck")
	run(t, ctx, "devices", chromedp.Navigate(base+"/console/#/devices"))
	until(t, ctx, "device online", `!!document.querySelector('#device-table tr[data-device="steamdeck"] .dot.on')`)
	if !routeMissing(t, "GET", base+"/v1/pairings", adminToken) {
		ctl := wspeer.Dial(t, "ws://"+h.gw0+"/ws/device/steamdeck", waitLimit)
		ctl.MustSend(map[string]any{"id": "h1", "type": "hub_connected", "payload": map[string]any{
			"name": "CapyDeploy Hub", "version": "0.1.0", "hubId": "hub-laptop", "token": ""}})
		ctl.Expect("pairing_required")
		until(t, ctx, "code shown", `!!document.querySelector('#pairing-table tr[data-hub="hub-laptop"]')`)
	}
	if pushed {
		until(t, ctx, "progress open", `document.getElementById('uploads-state').dataset.state === 'open'`)
		uploadFile(t, base, sid, "Celeste.tar", 96<<10)
		until(t, ctx, "upload listed", `!!document.querySelector('#upload-list li.upload-item')`)
	}
	shoot("devices")
}

// uploadFile posts size bytes as name to the session (POST /v1/files).
func uploadFile(t *testing.T, base, sid, name string, size int) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("session_id", sid)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(bytes.Repeat([]byte("x"), size))
	_ = mw.Close()
	if st, raw := rest(t, "POST", base+"/v1/files", clientToken, &body, mw.FormDataContentType()); st != http.StatusCreated {
		t.Fatalf("upload %s: %d %s", name, st, raw)
	}
}
