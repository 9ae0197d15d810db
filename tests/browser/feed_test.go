package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleLiveFeed: the Live feed view shows the /notification events
// as they arrive: a UserNotification an admin posts (POST
// /v1/notifications) and the AppNotification of a non-GET REST call, and
// its type filter hides and shows them again.
func TestConsoleLiveFeed(t *testing.T) {
	chromium(t)
	h := startHub(t)
	base := "http://" + h.gw0
	ctx := startBrowser(t, 1280, 800)
	signIn(t, ctx, base, true)
	run(t, ctx, "feed view", chromedp.Navigate(base+"/console/#/feed"))

	if routeMissing(t, "GET", base+"/notification", "") {
		t.Fatal("GET /notification answered 404: the hub lost its push channels")
	}
	until(t, ctx, "the feed socket open", `document.getElementById('feed-state').dataset.state === 'open'`)

	// The page's socket is open; the gateway subscribes its pod to the
	// push subjects as it admits the socket, so the first notification is
	// posted again until one arrives.
	primed := false
	for i := 0; i < 20 && !primed; i++ {
		postNotification(t, base, map[string]any{"title": "Warm-up", "message": fmt.Sprintf("warm-up %d", i)})
		primed = waitBriefly(ctx, `!!document.querySelector('#feed-list li[data-type="2"]')`, time.Second)
	}
	if !primed {
		t.Fatal("no UserNotification reached the page")
	}

	t.Run("UserNotification from POST /v1/notifications", func(t *testing.T) {
		postNotification(t, base, map[string]any{"title": "Console test", "message": "hello from the browser test"})
		until(t, ctx, "the notification listed",
			`[...document.querySelectorAll('#feed-list li[data-type="2"] .ev-text')].some(e => e.textContent === '[admin] Console test — hello from the browser test')`)
	})

	t.Run("AppNotification of a non-GET REST call", func(t *testing.T) {
		// Refused (no such endpoint), but every non-GET call is announced.
		st, raw := rest(t, "POST", base+"/v1/sessions", clientToken, strings.NewReader(`{"endpoint_id":"no-such-endpoint"}`), "application/json")
		if st < 400 {
			t.Fatalf("POST /v1/sessions for an unknown endpoint: %d %s", st, raw)
		}
		until(t, ctx, "the call listed",
			`[...document.querySelectorAll('#feed-list li[data-type="4"]')].some(li => li.querySelector('.ev-text').textContent.startsWith('POST /v1/sessions') &&
			  JSON.parse(li.querySelector('pre.raw').textContent).EndpointAddress === '/v1/sessions')`)
	})

	t.Run("type filter", func(t *testing.T) {
		run(t, ctx, "hide AppNotification", chromedp.Click(chromedp.ID("feed-type-4")))
		until(t, ctx, "only the others shown",
			`!document.querySelector('#feed-list li[data-type="4"]') && !!document.querySelector('#feed-list li[data-type="2"]')`)
		postNotification(t, base, map[string]any{"message": "while AppNotification is hidden"})
		until(t, ctx, "new events still arrive",
			`[...document.querySelectorAll('#feed-list li[data-type="2"]')].some(li => li.textContent.includes('while AppNotification is hidden')) &&
			  !document.querySelector('#feed-list li[data-type="4"]')`)
		run(t, ctx, "show AppNotification", chromedp.Click(chromedp.ID("feed-type-4")))
		until(t, ctx, "AppNotification back (kept while hidden)",
			`[...document.querySelectorAll('#feed-list li[data-type="4"] .ev-text')].some(e => e.textContent.startsWith('POST /v1/notifications'))`)
		run(t, ctx, "text filter", chromedp.SendKeys(chromedp.ID("feed-search"), "browser test"))
		until(t, ctx, "only the matching event",
			`document.querySelectorAll('#feed-list li').length === 1 && document.querySelector('#feed-list li').textContent.includes('hello from the browser test')`)
	})
}

func postNotification(t *testing.T, base string, body map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	st, raw := rest(t, "POST", base+"/v1/notifications", adminToken, bytes.NewReader(b), "application/json")
	if st != http.StatusAccepted {
		t.Fatalf("POST /v1/notifications: %d %s", st, raw)
	}
}

// waitBriefly waits up to d for a JavaScript condition; false when it
// did not become true.
func waitBriefly(ctx context.Context, js string, d time.Duration) bool {
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := chromedp.Run(tctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond)))
	return err == nil
}
