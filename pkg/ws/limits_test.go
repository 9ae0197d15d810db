package ws_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// expectClose reads until the peer's close frame and checks its code.
func expectClose(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("peer read %v, want close %d", err, code)
		}
		return
	}
}

// Before Authenticate a frame over PreAuthMaxMessageBytes closes 1009
// (and is never delivered); after it, frames up to MaxMessageBytes pass.
func TestPreAuthFrameLimit(t *testing.T) {
	o := opts()
	o.PreAuthMaxMessageBytes = 64 << 10
	url, conns := serve(t, o, nil)

	c := dial(t, url)
	s := accept(t, conns)
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if got := <-s.frames; len(got) != 64<<10 {
		t.Fatalf("frame at the pre-auth limit: %d bytes", len(got))
	}
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, ws.CloseTooBig)
	if err := <-s.readErr; !errors.Is(err, ws.ErrPreAuthTooBig) {
		t.Fatalf("ReadLoop returned %v, want ErrPreAuthTooBig", err)
	}
	select {
	case f := <-s.frames:
		t.Fatalf("oversized pre-auth frame delivered (%d bytes)", len(f))
	default:
	}

	c2 := dial(t, url)
	s2 := accept(t, conns)
	s2.conn.Authenticate()
	if err := c2.WriteMessage(websocket.TextMessage, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s2.frames:
		if len(got) != 1<<20 {
			t.Fatalf("frame of %d bytes", len(got))
		}
	case err := <-s2.readErr:
		t.Fatalf("authenticated 1 MiB frame refused: %v", err)
	}
}

// Many sockets sending big frames at once never take more than the read
// budget: frames wait for it (none is refused while the wait is long
// enough) and the budget is all given back afterwards.
func TestReadBudgetBoundsConcurrentFrames(t *testing.T) {
	const (
		sockets = 12
		frames  = 2
		size    = 4 << 20
		budget  = 10 << 20 // room for two frames
	)
	o := opts()
	o.MaxMessageBytes = 8 << 20
	o.Budget = ws.NewBudget(budget)
	o.BudgetWait = time.Minute
	url, conns := serve(t, o, nil)
	var wg, got sync.WaitGroup
	for range sockets {
		c := dial(t, url)
		s := accept(t, conns)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range frames {
				if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, size)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		got.Add(1)
		go func() {
			defer got.Done()
			for range frames {
				select {
				case <-s.frames:
				case err := <-s.readErr:
					t.Errorf("socket ended: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for o.Budget.InUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if o.Budget.Peak() > budget {
		t.Fatalf("peak read budget %d bytes, over the budget of %d", o.Budget.Peak(), budget)
	}
	if o.Budget.Peak() < size-ws.FreeFrameBytes {
		t.Fatalf("peak read budget %d: the frames were not counted", o.Budget.Peak())
	}
	if o.Budget.Waits() == 0 {
		t.Fatalf("no frame waited for the budget: the test did not exercise it")
	}
}

// A frame that finds the budget used up past BudgetWait closes 1013; the
// budget held by a frame being handled is given back when it returns.
func TestReadBudgetExhaustedCloses1013(t *testing.T) {
	o := opts()
	o.MaxMessageBytes = 4 << 20
	o.Budget = ws.NewBudget(1 << 20)
	o.BudgetWait = 200 * time.Millisecond
	handling, release := make(chan struct{}, 1), make(chan struct{})
	ended := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := ws.Upgrader().Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ended <- ws.New(raw, o).ReadLoop(func(bool, []byte) {
			handling <- struct{}{}
			<-release
		})
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	a := dial(t, url)
	if err := a.WriteMessage(websocket.TextMessage, make([]byte, 900<<10)); err != nil {
		t.Fatal(err)
	}
	<-handling // a's frame holds its budget while it is handled
	if used := o.Budget.InUse(); used < 800<<10 {
		t.Fatalf("budget in use %d while a 900 KiB frame is handled", used)
	}
	b := dial(t, url)
	if err := b.WriteMessage(websocket.TextMessage, make([]byte, 900<<10)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, b, ws.CloseTryAgain)
	if err := <-ended; !errors.Is(err, ws.ErrBudget) {
		t.Fatalf("ReadLoop returned %v, want ErrBudget", err)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for o.Budget.InUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if used := o.Budget.InUse(); used != 0 {
		t.Fatalf("budget in use %d after every frame was handled", used)
	}
}
