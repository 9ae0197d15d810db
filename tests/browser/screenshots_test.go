package browser

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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
}
