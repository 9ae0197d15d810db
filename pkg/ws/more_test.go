package ws_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// clientFrame is a masked client frame (zero masking key) with opcode op.
func clientFrame(fin bool, op byte, payload string) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if len(payload) < 126 {
		return append([]byte{b0, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	}
	return append([]byte{b0, 0x80 | 126, byte(len(payload) >> 8), byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// MoreBuffered says "more" only when a next text or binary message that
// fits the read buffer is buffered, whole or in part; OnReadDrained
// follows every frame after which it is not (a ping next, a fragment, a
// large frame still arriving).
func TestMoreBuffered(t *testing.T) {
	events := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := ws.Upgrader()
		up.ReadBufferSize = ws.StreamReadBufferBytes
		raw, err := ws.Upgrade(up, w, r)
		if err != nil {
			return
		}
		o := opts()
		o.Streaming = true
		c := ws.New(raw, o)
		c.OnReadDrained = func() { events <- "drained" }
		_ = c.ReadLoop(func(_ bool, data []byte) {
			more := map[bool]string{true: "+more", false: ""}[c.MoreBuffered()]
			events <- string(data) + more
		})
	}))
	t.Cleanup(srv.Close)
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() { // answer nothing, but read the pong
		for {
			if _, _, err := peer.ReadMessage(); err != nil {
				return
			}
		}
	}()
	f := clientFrame(true, websocket.TextMessage, "ffff")
	big := strings.Repeat("g", 2*ws.StreamReadBufferBytes)
	g := clientFrame(true, websocket.TextMessage, big)
	steps := []struct {
		send []byte
		want []string
	}{
		{concat(
			clientFrame(true, websocket.TextMessage, "a"),
			clientFrame(true, websocket.TextMessage, "b"),
			clientFrame(true, websocket.PingMessage, ""),
			clientFrame(true, websocket.TextMessage, "c"),
			clientFrame(false, websocket.TextMessage, "d"),
			clientFrame(true, 0, "e"),
			f[:len(f)-2], // a small frame, still arriving
		), []string{"a+more", "b", "drained", "c", "drained", "de+more"}},
		{concat(f[len(f)-2:], g[:100]), []string{"ffff", "drained"}}, // a large frame, still arriving
		{g[100:], []string{big, "drained"}},
	}
	for i, st := range steps {
		if _, err := peer.NetConn().Write(st.send); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, events, len(st.want)); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: events %.40q, want %.40q", i, got, st.want)
		}
	}
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func collect(t *testing.T, events chan string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case e := <-events:
			got = append(got, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: no event within 5s", got)
		}
	}
	return got
}
