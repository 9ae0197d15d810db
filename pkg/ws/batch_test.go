package ws

import (
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

// pair returns the server side of one socket upgraded through Upgrade,
// the peer, and the count of write calls on the server's connection.
func pair(t *testing.T, o Options) (*Conn, *websocket.Conn, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	writes := &atomic.Int64{}
	got := make(chan *Conn, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := Upgrade(Upgrader(), w, r)
		if err != nil {
			return
		}
		c := New(raw, o)
		got <- c
		_ = c.ReadLoop(func(bool, []byte) {})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(countingListener{Listener: ln, writes: writes}) }()
	t.Cleanup(func() { _ = srv.Close() })
	peer, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	select {
	case c := <-got:
		return c, peer, writes
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil, nil, nil
	}
}

func testOptions() Options {
	return Options{PingPeriod: time.Hour, PongWait: time.Hour, WriteWait: 5 * time.Second,
		MaxMessageBytes: 1 << 20, QueueFrames: 1 << 10, QueueBytes: 16 << 20}
}

// The frames one wake-up of the writer finds queued go out in one write,
// in order and intact; a batch over WriteBatchBytes is split, and a frame
// larger than the batch goes out whole; with WriteBatchBytes < 0 every
// frame is its own write.
func TestWriteBatchCoalesces(t *testing.T) {
	for _, tc := range []struct {
		name       string
		batchBytes int
		sizes      []int
		maxWrites  int64
		minWrites  int64
	}{
		{"ten small frames: one write", 0, repeat(100, 10), 1, 1},
		{"over the batch bound: split", 1000, repeat(300, 10), 5, 4},
		// gorilla writes a 5000-byte frame in two parts (its 4 KiB buffer,
		// then the rest); with the pending bytes they are one writev on a
		// TCP connection, which this counting wrapper sees as two writes.
		{"a frame larger than the batch", 1000, []int{100, 5000, 100}, 4, 1},
		{"coalescing off", -1, repeat(100, 10), 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			o.WriteBatchBytes = tc.batchBytes
			c, peer, writes := pair(t, o)
			var batch []item
			for i, n := range tc.sizes {
				data := []byte(strconv.Itoa(i) + ":")
				for len(data) < n {
					data = append(data, 'x')
				}
				batch = append(batch, item{data: data, binary: i%2 == 1})
			}
			writes.Store(0)
			if !c.writeBatch(batch) {
				t.Fatal("socket finished while writing")
			}
			w := writes.Load()
			if w > tc.maxWrites || w < tc.minWrites {
				t.Errorf("%d frames took %d writes, want %d..%d", len(tc.sizes), w, tc.minWrites, tc.maxWrites)
			}
			_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i, n := range tc.sizes {
				typ, data, err := peer.ReadMessage()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				wantTyp := websocket.TextMessage
				if i%2 == 1 {
					wantTyp = websocket.BinaryMessage
				}
				if typ != wantTyp || len(data) != n || string(data[:len(strconv.Itoa(i))+1]) != strconv.Itoa(i)+":" {
					t.Fatalf("frame %d: type %d, %d bytes %q…; want type %d, %d bytes", i, typ, len(data), data[:min(8, len(data))], wantTyp, n)
				}
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}
