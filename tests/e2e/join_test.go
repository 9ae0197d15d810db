package e2e

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestJoinRacesFirstFrames: many clients subscribe to fresh sessions while
// the sessions' first frames are in flight. Every client ends with each
// seq exactly once — history and live together — whichever way the race
// went: 0 duplicates, 0 gaps. (A join of an empty session once replayed
// frames it also delivered live.)
func TestJoinRacesFirstFrames(t *testing.T) {
	const (
		sessions   = 50
		perSession = 4 // clients per session, spread over two gateways: 200 sockets
		first      = 3 // frames sent while the clients join
	)
	h := startHub(t, hubOptions{extraGateways: 1})
	rt := h.connectRuntime(0, "r-join", "ep-join")
	sids := make([]string, sessions)
	for i := range sids {
		sids[i] = h.createSession(rt, "ep-join", clientToken)
	}
	type client struct {
		sid  string
		conn *websocket.Conn
		seen map[int64]int
		err  error
	}
	var clients []*client
	for i := 0; i < sessions*perSession; i++ {
		c, _, err := websocket.DefaultDialer.Dial(h.ws(i%2, "/ws/client?token="+clientToken), nil)
		if err != nil {
			t.Fatalf("dial client %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		clients = append(clients, &client{sid: sids[i%sessions], conn: c, seen: map[int64]int{}})
	}
	// read collects seqs (history messages and live frames) until upTo.
	read := func(c *client, upTo int64) {
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * waitLimit))
		for c.seen[upTo] == 0 {
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				c.err = fmt.Errorf("waiting for seq %d: %w", upTo, err)
				return
			}
			var f struct {
				Type    string `json:"type"`
				Seq     int64  `json:"seq"`
				Payload struct {
					Messages []struct {
						Seq int64 `json:"seq"`
					} `json:"messages"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(data, &f); err != nil {
				c.err = fmt.Errorf("frame %s: %w", data, err)
				return
			}
			switch {
			case f.Type == "history.response":
				for _, m := range f.Payload.Messages {
					c.seen[m.Seq]++
				}
			case f.Seq > 0:
				c.seen[f.Seq]++
			}
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sub := map[string]any{"type": "client.subscribe", "ts": ts(), "payload": map[string]any{"session_id": c.sid, "after_seq": 0}}
			if c.err = c.conn.WriteJSON(sub); c.err == nil {
				read(c, first)
			}
		}()
	}
	output := func(sid string, n int) {
		rt.MustSend(map[string]any{"type": "agent.output", "session_id": sid, "payload": map[string]any{
			"session_id": sid, "seq": n, "channel": "stdout", "content": fmt.Sprint("line ", n), "final": false}})
	}
	close(start)
	for n := 1; n <= first; n++ {
		for _, sid := range sids {
			output(sid, n)
		}
	}
	wg.Wait()
	// One more frame each, sent after every client has the first ones: a
	// late duplicate of those would arrive before it.
	for _, sid := range sids {
		output(sid, first+1)
	}
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.err == nil {
				read(c, first+1)
			}
		}()
	}
	wg.Wait()
	dups, gaps := 0, 0
	for i, c := range clients {
		if c.err != nil {
			t.Fatalf("client %d (%s): %v", i, c.sid, c.err)
		}
		for seq := int64(1); seq <= first+1; seq++ {
			switch n := c.seen[seq]; {
			case n == 0:
				gaps++
			case n > 1:
				dups += n - 1
			}
		}
		if len(c.seen) != first+1 {
			t.Errorf("client %d saw seqs %v, want 1..%d", i, c.seen, first+1)
		}
	}
	if dups != 0 || gaps != 0 {
		t.Fatalf("%d clients: %d duplicates, %d gaps; want 0 and 0", len(clients), dups, gaps)
	}
}
