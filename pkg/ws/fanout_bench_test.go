package ws_test

import (
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// countingListener counts the Write calls (each one write(2) on a TCP
// connection) of the connections it accepts.
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

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// fanoutSockets opens n sockets over loopback whose peers count what they
// read; the server side upgrades through ws.Upgrade (coalescing writes) when coalesce is set.
func fanoutSockets(b *testing.B, n int, o ws.Options, coalesce bool) (conns []*ws.Conn, writes *atomic.Int64, received *atomic.Int64) {
	writes, received = &atomic.Int64{}, &atomic.Int64{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	accepted := make(chan *ws.Conn, n)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrade := func() (*websocket.Conn, error) { return ws.Upgrader().Upgrade(w, r, nil) }
		if coalesce {
			upgrade = func() (*websocket.Conn, error) { return ws.Upgrade(ws.Upgrader(), w, r) }
		}
		raw, err := upgrade()
		if err != nil {
			return
		}
		c := ws.New(raw, o)
		accepted <- c
		_ = c.ReadLoop(func(bool, []byte) {})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(countingListener{Listener: ln, writes: writes}) }()
	b.Cleanup(func() { _ = srv.Close() })
	url := "ws://" + ln.Addr().String() + "/"
	for range n {
		pc, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pc.Close() })
		go func() {
			for {
				if _, _, err := pc.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
		conns = append(conns, <-accepted)
	}
	return conns, writes, received
}

// BenchmarkFanoutWrite is one writer fanning 100-byte frames out to N
// sockets over loopback, as a topic's delivery does: each iteration
// queues one frame on every socket. writes/frame is the write(2) calls
// per delivered frame, counted on the server's connections.
//
//	go test ./pkg/ws -run '^$' -bench FanoutWrite -benchtime 2000x
func BenchmarkFanoutWrite(b *testing.B) {
	frame := make([]byte, 100)
	for i := range frame {
		frame[i] = 'x'
	}
	for _, n := range []int{10, 100} {
		for _, mode := range []struct {
			name     string
			coalesce bool
			batch    int
		}{{"perframe", false, 0}, {"coalesce", true, 0}} {
			b.Run(mode.name+"/sockets="+strconv.Itoa(n), func(b *testing.B) {
				o := opts()
				o.WriteBatchBytes = mode.batch
				conns, writes, received := fanoutSockets(b, n, o, mode.coalesce)
				writes.Store(0)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					for _, c := range conns {
						if err := c.Send(frame); err != nil {
							b.Fatal(err)
						}
					}
				}
				want := int64(b.N) * int64(n)
				deadline := time.Now().Add(30 * time.Second)
				for received.Load() < want {
					if time.Now().After(deadline) {
						b.Fatalf("received %d of %d frames", received.Load(), want)
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				b.ReportMetric(float64(writes.Load())/float64(want), "writes/frame")
				var wg sync.WaitGroup
				for _, c := range conns {
					wg.Add(1)
					go func() { defer wg.Done(); c.Close(ws.CloseNormal, "") }()
				}
				wg.Wait()
			})
		}
	}
}

// BenchmarkPacedWrite is the fan-out of a streaming session at a pace the
// sockets keep up with: each iteration queues one 100-byte frame on every
// socket and waits until every peer has read it, so each socket's queue
// empties between frames (a writer that ended would be started again for
// the next one).
//
//	go test ./pkg/ws -run '^$' -bench PacedWrite -benchtime 3000x
func BenchmarkPacedWrite(b *testing.B) {
	frame := make([]byte, 100)
	for _, n := range []int{10, 100} {
		b.Run("sockets="+strconv.Itoa(n), func(b *testing.B) {
			conns, _, received := fanoutSockets(b, n, opts(), true)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for _, c := range conns {
					if err := c.Send(frame); err != nil {
						b.Fatal(err)
					}
				}
				want := int64(i+1) * int64(n)
				for received.Load() < want {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			for _, c := range conns {
				c.Close(ws.CloseNormal, "")
			}
		})
	}
}
