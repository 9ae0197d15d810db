package browser

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchyard-hub/switchyard/tests/wspeer"
)

const (
	deviceID   = "deck-console"
	deviceName = "Console Deck"
	hubID      = "hub-console"
)

// TestConsoleDevices: the Devices view shows the reference device agent
// online (from GET /v1/endpoints), the pending pairing code a controller
// gets by saying hub_connected without a token (GET /v1/pairings, with its
// countdown), revokes the pairing of a paired controller, and lists an
// upload in flight from the /notification Progress events.
func TestConsoleDevices(t *testing.T) {
	chromium(t)
	h := startHub(t)
	base := "http://" + h.gw0
	startDeviceAgent(t, h.gw0, deviceID, deviceName)
	ctx := startBrowser(t, 1280, 800)
	signIn(t, ctx, base, true)
	run(t, ctx, "devices view", chromedp.Navigate(base+"/console/#/devices"))

	t.Run("device agent online", func(t *testing.T) {
		until(t, ctx, "the device row",
			`(() => { const r = document.querySelector('#device-table tr[data-device="`+deviceID+`"]');
			  return r && r.querySelector('.dot.on') && r.textContent.includes('`+deviceName+`') && r.querySelector('td.accept').textContent === 'yes'; })()`)
		platform := eval[string](t, ctx, `document.querySelector('#device-table tr[data-device="`+deviceID+`"] td:nth-child(3)').textContent`)
		if platform == "" {
			t.Fatal("no platform shown for the device (caps.device.platform)")
		}
	})

	var code string
	var ctl *wspeer.Peer
	top := t // the controller's socket outlives the subtest that opens it
	t.Run("pending pairing code", func(t *testing.T) {
		if routeMissing(t, "GET", base+"/v1/pairings", adminToken) {
			t.Fatal("GET /v1/pairings answered 404: the hub lost its device dialect")
		}
		until(t, ctx, "no code pending yet", `document.getElementById('pairings').textContent.includes('No pairing code is pending')`)
		ctl = wspeer.Dial(top, "ws://"+h.gw0+"/ws/device/"+deviceID, waitLimit)
		ctl.MustSend(map[string]any{"id": "h1", "type": "hub_connected", "payload": map[string]any{
			"name": "Console test hub", "version": "0.1.0", "hubId": hubID, "token": ""}})
		ctl.Expect("pairing_required")
		until(t, ctx, "the code with its countdown",
			`(() => { const r = document.querySelector('#pairing-table tr[data-device="`+deviceID+`"][data-hub="`+hubID+`"]');
			  if (!r) return false; const s = /^(\d+)s$/.exec(r.querySelector('td.countdown').textContent);
			  return /^\d{6}$/.test(r.querySelector('.pair-code').textContent) && s && Number(s[1]) > 0 && Number(s[1]) <= 60; })()`)
		code = eval[string](t, ctx, `document.querySelector('#pairing-table tr[data-hub="`+hubID+`"] .pair-code').textContent`)
		st, raw := rest(t, "GET", base+"/v1/pairings", adminToken, nil, "")
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); st != http.StatusOK || err != nil {
			t.Fatalf("GET /v1/pairings: %d %s", st, raw)
		}
		found := false
		for _, p := range list {
			found = found || (p["device_id"] == deviceID && p["hub_id"] == hubID && p["code"] == code)
		}
		if !found {
			t.Fatalf("the page shows code %s, GET /v1/pairings has %s", code, raw)
		}
	})

	t.Run("revoke a paired controller", func(t *testing.T) {
		if ctl == nil {
			t.Skip("no pairing code (see the skip above): nothing to pair and revoke")
		}
		ctl.MustSend(map[string]any{"id": "p1", "type": "pair_confirm", "payload": map[string]any{"code": code}})
		if tok, _ := wspeer.Payload(ctl.Expect("pair_success"))["token"].(string); tok == "" {
			t.Fatal("pair_success without a token")
		}
		ctl.Expect("agent_status")
		until(t, ctx, "the code consumed", `!document.querySelector('#pairing-table tr[data-hub="`+hubID+`"]') || !document.body.contains(document.getElementById('pairing-table'))`)
		until(t, ctx, "the revoke form", `!!document.querySelector('#revoke-device option[value="`+deviceID+`"]')`)
		run(t, ctx, "revoke",
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			chromedp.SetValue(chromedp.ID("revoke-device"), deviceID),
			chromedp.SendKeys(chromedp.ID("revoke-hub"), hubID),
			chromedp.Click(chromedp.CSS(`#revoke-form button[type="submit"]`)))
		until(t, ctx, "revoked", `document.getElementById('revoke-msg').textContent.includes('Revoked: `+hubID+` is no longer paired with `+deviceID+`')`)
		m := ctl.ExpectSkipping("error", "upload_progress")
		if e, _ := m["error"].(map[string]any); e == nil || e["code"] != float64(401) {
			t.Fatalf("the controller got %v, want error 401", m)
		}
		if c := ctl.CloseCode(); c != 1008 {
			t.Fatalf("the controller's socket closed with %d, want 1008", c)
		}
		run(t, ctx, "revoke again", chromedp.Click(chromedp.CSS(`#revoke-form button[type="submit"]`)))
		until(t, ctx, "nothing left to revoke", `document.getElementById('revoke-msg').textContent.includes('pairing_not_found')`)
	})

	t.Run("upload in flight", func(t *testing.T) {
		if routeMissing(t, "GET", base+"/notification", "") {
			t.Fatal("GET /notification answered 404: the hub lost its push channels")
		}
		until(t, ctx, "the progress socket open", `document.getElementById('uploads-state').dataset.state === 'open'`)
		rt := connectTestRuntime(t, h.gw0)
		created := make(chan string, 1)
		go func() {
			_, raw := rest(t, "POST", base+"/v1/sessions", clientToken, strings.NewReader(`{"endpoint_id":"probe"}`), "application/json")
			var s struct{ ID string }
			_ = json.Unmarshal(raw, &s)
			created <- s.ID
		}()
		rt.acceptSession()
		sid := <-created
		uploadFile(t, base, sid, "firmware.bin", 64<<10)
		until(t, ctx, "the upload listed, completed",
			`[...document.querySelectorAll('#upload-list li.upload-item')].some(li => li.textContent.includes('firmware.bin') &&
			  li.dataset.status === 'Completed' && li.querySelector('progress').value === 100)`)
	})
}
