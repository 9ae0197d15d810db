package browser

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

// TestConsole walks the console as a user does: sign in, a session on the
// example shell runtime, a permission prompt, files both ways, a reload in
// the middle of a stream, and the death of the gateway the page is on.
func TestConsole(t *testing.T) {
	chromium(t)
	h := startHub(t)
	lb := newBalancer(t, h.gw1, h.gw0) // the page is on gw-1 while it lives
	startShellRuntime(t, h.gw0)
	rt := connectTestRuntime(t, h.gw0)
	ctx := startBrowser(t, 1280, 800)

	signIn(t, ctx, lb.URL, true)

	t.Run("endpoints online", func(t *testing.T) {
		run(t, ctx, "endpoints view", chromedp.Navigate(lb.URL+"/console/#/endpoints"))
		until(t, ctx, "both endpoints online",
			`['shell', 'probe'].every(id => { const r = document.querySelector('#endpoints tr[data-endpoint="' + id + '"] .dot'); return r && r.classList.contains('on'); })`)
		until(t, ctx, "admin forms", `!!document.getElementById('cfg-form') && !!document.getElementById('tok-form')`)
	})

	t.Run("admin: config override and a runtime token", func(t *testing.T) {
		until(t, ctx, "probe in the editor", `!!document.querySelector('#cfg-endpoint option[value="probe"]')`)
		run(t, ctx, "edit", chromedp.SetValue(chromedp.ID("cfg-endpoint"), "probe"),
			chromedp.SetValue(chromedp.ID("cfg-json"), `{"security":{"permission_mode":"plan"},"limits":{"max_turns":5}}`),
			chromedp.Click(chromedp.CSS(`#cfg-form button[type="submit"]`)))
		upd := wspeer.Payload(rt.Expect("endpoint.config_update"))
		if upd["endpoint_id"] != "probe" || upd["limits"].(map[string]any)["max_turns"] != float64(5) {
			t.Fatalf("runtime got %v", upd)
		}
		rt.MustSend(map[string]any{"type": "endpoint.config_ack", "ts": ts(), "payload": map[string]any{"endpoint_id": "probe", "ok": true}})
		until(t, ctx, "acknowledged", `document.querySelector('#cfg-form .msg').textContent.includes('probe acknowledged the override')`)

		run(t, ctx, "issue", chromedp.SendKeys(chromedp.ID("tok-runtime"), "probe-rt"),
			chromedp.Click(chromedp.CSS(`#tok-form button[type="submit"]`)))
		until(t, ctx, "the new token, shown once", `/^[A-Za-z0-9_-]{43}$/.test((document.querySelector('#tok-form input.token') || {}).value || '')`)
	})

	t.Run("shell session streams echo hello", func(t *testing.T) {
		run(t, ctx, "sessions view", chromedp.Navigate(lb.URL+"/console/#/sessions"))
		until(t, ctx, "shell offered", `!!document.querySelector('#create-endpoint option[value="shell"]')`)
		run(t, ctx, "create", chromedp.SetValue(chromedp.ID("create-endpoint"), "shell"),
			chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)))
		until(t, ctx, "session view", `/^#\/sessions\/[A-Za-z0-9_-]+$/.test(location.hash) && !!document.getElementById('transcript')`)
		until(t, ctx, "subscribed", `document.getElementById('transcript').dataset.replayed === 'true'`)
		run(t, ctx, "type echo hello", chromedp.SendKeys(chromedp.ID("message"), "echo hello"+kb.Enter))
		until(t, ctx, "the echo, its output and the end of the turn",
			`(() => { const tr = document.getElementById('transcript');
			  return [...tr.querySelectorAll('.entry.user')].some(e => e.textContent.includes('echo hello')) &&
			    [...tr.querySelectorAll('pre.output')].some(p => /^hello$/m.test(p.textContent)) &&
			    [...tr.querySelectorAll('.entry.meta')].some(e => e.textContent === 'turn completed · exit 0'); })()`)
	})

	var sid string
	t.Run("permission prompt", func(t *testing.T) {
		run(t, ctx, "sessions view", chromedp.Navigate(lb.URL+"/console/#/sessions"))
		until(t, ctx, "probe offered", `!!document.querySelector('#create-endpoint option[value="probe"]')`)
		run(t, ctx, "create", chromedp.SetValue(chromedp.ID("create-endpoint"), "probe"),
			chromedp.Click(chromedp.CSS(`#create-form button[type="submit"]`)))
		sid = rt.acceptSession()
		until(t, ctx, "session view", `location.hash === '#/sessions/`+sid+`' && document.getElementById('transcript').dataset.replayed === 'true'`)
		rt.MustSend(map[string]any{"type": "permission.request", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "request_id": "req-1", "tool": "Bash", "description": "Execute: rm -rf /tmp/build", "resource": "/tmp/build"}})
		until(t, ctx, "prompt with a countdown",
			`(() => { const c = document.querySelector('.permission[data-request="req-1"]');
			  return c && c.classList.contains('pending') && /auto-deny in (5[0-9]|60)s/.test(c.querySelector('.countdown').textContent); })()`)
		run(t, ctx, "approve", chromedp.Click(chromedp.CSS(`.permission[data-request="req-1"] button.approve`)))
		resp := wspeer.Payload(rt.Expect("permission.response"))
		if resp["request_id"] != "req-1" || resp["approved"] != true || resp["always_allow"] != false {
			t.Fatalf("runtime got %v", resp)
		}
		until(t, ctx, "prompt settled", `document.querySelector('.permission[data-request="req-1"]').classList.contains('approved')`)

		rt.MustSend(map[string]any{"type": "permission.request", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "request_id": "req-2", "tool": "Write", "description": "Write notes.md"}})
		until(t, ctx, "second prompt", `!!document.querySelector('.permission.pending[data-request="req-2"] button.always')`)
		run(t, ctx, "always allow", chromedp.Click(chromedp.CSS(`.permission[data-request="req-2"] button.always`)))
		resp = wspeer.Payload(rt.Expect("permission.response"))
		if resp["request_id"] != "req-2" || resp["approved"] != true || resp["always_allow"] != true {
			t.Fatalf("runtime got %v", resp)
		}
		until(t, ctx, "second prompt settled", `/approved \(always allow\)/.test(document.querySelector('.permission[data-request="req-2"] .result').textContent)`)
	})

	t.Run("files both ways", func(t *testing.T) {
		const upload = "switchyard upload 42\n"
		run(t, ctx, "choose a file", chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{writeFile(t, "notes.txt", upload)}))
		got := wspeer.Payload(rt.Expect("file.upload"))
		md, _ := got["metadata"].(map[string]any)
		data, err := base64.StdEncoding.DecodeString(got["data"].(string))
		if err != nil || string(data) != upload || md["name"] != "notes.txt" {
			t.Fatalf("runtime got file.upload %v (data %q, %v)", md, data, err)
		}
		until(t, ctx, "upload listed", `[...document.querySelectorAll('#files li')].some(li => li.textContent.includes('notes.txt'))`)

		const result = "result from the runtime\n"
		rt.MustSend(map[string]any{"type": "file.available", "session_id": sid, "ts": ts(), "payload": map[string]any{
			"session_id": sid, "metadata": map[string]any{"file_id": "out-1", "name": "result.txt", "mime_type": "text/plain", "size": len(result)},
			"data": base64.StdEncoding.EncodeToString([]byte(result))}})
		until(t, ctx, "runtime file listed", `!!document.querySelector('#files li[data-file="out-1"] button')`)
		dir := t.TempDir()
		if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true)}); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		events := chromedp.BrowserEvents(dctx, browser.DownloadProgress)
		run(t, ctx, "download", chromedp.Click(chromedp.CSS(`#files li[data-file="out-1"] button`)))
		for e, err := range events {
			if err != nil {
				t.Fatalf("download did not complete: %v", err)
			}
			if e.State == browser.DownloadProgressStateCompleted {
				break
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "result.txt")); err != nil || string(b) != result {
			t.Fatalf("downloaded %q, %v", b, err)
		}
	})

	t.Run("reload mid-stream shows each line once", func(t *testing.T) {
		run(t, ctx, "send", chromedp.SendKeys(chromedp.ID("message"), "stream"+kb.Enter))
		turn := rt.startTurn(sid, "stream")
		if err := rt.lines(sid, 1, 20); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "line 20", `document.getElementById('transcript').textContent.includes('line-020')`)
		sent := make(chan error, 1)
		go func() { sent <- rt.lines(sid, 21, 30) }() // while the page reloads
		run(t, ctx, "reload", chromedp.Reload())
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "replayed", `!!document.getElementById('transcript') && document.getElementById('transcript').dataset.replayed === 'true'`)
		until(t, ctx, "both files listed again (GET /v1/sessions/{id}/files)",
			`!!document.querySelector('#files li[data-file="out-1"]') && [...document.querySelectorAll('#files li')].some(li => li.textContent.includes('notes.txt'))`)
		if err := rt.lines(sid, 31, 40); err != nil {
			t.Fatal(err)
		}
		rt.endTurn(sid, turn)
		until(t, ctx, "line 40 and the end of the turn",
			`(() => { const tr = document.getElementById('transcript'); return tr.textContent.includes('line-040') && tr.dataset.turn === 'idle' &&
			  [...tr.querySelectorAll('.entry.meta')].some(e => e.textContent.startsWith('turn completed')); })()`)
		exactlyOnce(t, countLines(t, ctx), 1, 40)
		seqs := eval[[]string](t, ctx, `[...document.querySelectorAll('#transcript [data-seq]')].map(e => e.dataset.seq)`)
		seen := map[string]bool{}
		for _, s := range seqs {
			if seen[s] {
				t.Errorf("seq %s rendered twice", s)
			}
			seen[s] = true
		}
	})

	t.Run("gateway dies, the page resumes on the other", func(t *testing.T) {
		if ws := lb.wsBackends(); len(ws) == 0 || ws[len(ws)-1] != h.gw1 {
			t.Fatalf("the page's socket is not on gw-1 (%s): %v", h.gw1, ws)
		}
		reconnects := eval[string](t, ctx, `document.body.dataset.reconnects || '0'`)
		run(t, ctx, "send", chromedp.SendKeys(chromedp.ID("message"), "more"+kb.Enter))
		turn := rt.startTurn(sid, "more")
		if err := rt.lines(sid, 41, 60); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "line 60", `document.getElementById('transcript').textContent.includes('line-060')`)
		h.killGw1()
		if err := rt.lines(sid, 61, 80); err != nil { // while the page has no socket
			t.Fatal(err)
		}
		rt.endTurn(sid, turn)
		until(t, ctx, "reconnected and caught up",
			`(() => { const tr = document.getElementById('transcript'); return Number(document.body.dataset.reconnects) > `+reconnects+` &&
			  document.getElementById('conn').dataset.state === 'open' && tr.textContent.includes('line-080') && tr.dataset.turn === 'idle'; })()`)
		exactlyOnce(t, countLines(t, ctx), 1, 80)
		if ws := lb.wsBackends(); ws[len(ws)-1] != h.gw0 {
			t.Fatalf("the page did not resume on the other gateway (%s): %v", h.gw0, ws)
		}
		state := eval[string](t, ctx, `document.getElementById('link-state').textContent`)
		if !regexp.MustCompile(`^live · seq \d+$`).MatchString(state) {
			t.Fatalf("session link state %q", state)
		}
	})

	t.Run("cluster", func(t *testing.T) {
		run(t, ctx, "cluster view", chromedp.Navigate(lb.URL+"/console/#/cluster"))
		until(t, ctx, "dev gateway with its runtime sockets",
			`(() => { const r = document.querySelector('#pod-table tr[data-pod="dev-gateway"]'); return r && r.textContent.includes('(serving this page)'); })()`)
		until(t, ctx, "live rates", `!!document.querySelector('#rates tr[data-metric="switchyard_gateway_frames_in_total"]')`)
	})

	t.Run("sign out forgets the tokens", func(t *testing.T) {
		run(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")))
		until(t, ctx, "sign-in form", `!!document.getElementById('client-token') && sessionStorage.length === 0`)
	})
}
