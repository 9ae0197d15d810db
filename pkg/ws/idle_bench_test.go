package ws_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// idleDialerEnv makes the test binary the dialer of BenchmarkIdleSockets:
// "addr n" opens n sockets to addr, authenticates each (hello → ack),
// prints "ready" and holds them until stdin closes.
const idleDialerEnv = "SY_WS_IDLE_DIALER"

// TestIdleDialer is the dialer process of BenchmarkIdleSockets (the
// sockets' client ends live in another process, so they do not count in
// the server's memory).
func TestIdleDialer(t *testing.T) {
	spec := os.Getenv(idleDialerEnv)
	if spec == "" {
		t.Skip("helper process of BenchmarkIdleSockets; runs only when " + idleDialerEnv + " is set")
	}
	addr, ns, _ := strings.Cut(spec, " ")
	n, _ := strconv.Atoi(ns)
	var held []*websocket.Conn
	for i := range n {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range held {
		_ = c.Close()
	}
}

// idleModel is one way of serving a socket, as the gateway might.
type idleModel struct {
	name string
	// upgrader builds the socket's upgrader.
	upgrader func() *websocket.Upgrader
	// ownReader: the handler returns after the upgrade and the read loop
	// runs on a goroutine of its own (net/http's per-connection state and
	// the serving goroutine's grown stack are released).
	ownReader bool
	// park: upgraded through ws.Upgrade, so an idle socket holds no
	// goroutine at all.
	park bool
}

// BenchmarkIdleSockets opens 2,000 authenticated idle sockets (another
// process holds the client ends) and reports what each costs the server:
// heap in use, goroutine stacks, goroutines, and RSS (after a forced GC
// and return of free memory to the OS). b.N is not used: run it with
// -benchtime 1x.
//
//	go test ./pkg/ws -run '^$' -bench IdleSockets -benchtime 1x
func BenchmarkIdleSockets(b *testing.B) {
	const sockets = 2000
	models := []idleModel{
		// The gateway before (060b2f2): net/http's read buffer, a write
		// buffer pool per socket, the handler goroutine reads.
		{name: "before/handler-reads", upgrader: func() *websocket.Upgrader {
			return &websocket.Upgrader{WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}
		}},
		{name: "handler-reads/http-read-buffer", upgrader: httpReadBuffer},
		// The gateway before sockets parked (05dd331): a reader goroutine
		// per socket.
		{name: "own-reader/ws.Upgrader", upgrader: ws.Upgrader, ownReader: true},
		// What the gateway does: runtimes (4 KiB buffer) and client sockets.
		{name: "parked/read-buffer=4096", upgrader: streamUpgrader, ownReader: true, park: true},
		{name: "parked/ws.Upgrader", upgrader: ws.Upgrader, ownReader: true, park: true},
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			for range b.N {
				idleRun(b, m, sockets)
			}
		})
	}
}

// streamUpgrader is ws.Upgrader with a runtime socket's read buffer.
func streamUpgrader() *websocket.Upgrader {
	u := ws.Upgrader()
	u.ReadBufferSize = ws.StreamReadBufferBytes
	return u
}

// httpReadBuffer is ws.Upgrader reusing net/http's 4 KiB read buffer.
func httpReadBuffer() *websocket.Upgrader {
	u := ws.Upgrader()
	u.ReadBufferSize = 0
	return u
}

func idleRun(b *testing.B, m idleModel, sockets int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	o := ws.Options{PingPeriod: time.Hour, PongWait: time.Hour, WriteWait: 5 * time.Second,
		MaxMessageBytes: 1 << 20, QueueFrames: 256, QueueBytes: 1 << 20}
	echo := func(c *ws.Conn) func(bool, []byte) {
		return func(bool, []byte) { _ = c.Send([]byte(`{"type":"hello.ack"}`)) }
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrade := func() (*websocket.Conn, error) { return m.upgrader().Upgrade(w, r, nil) }
		if m.park {
			upgrade = func() (*websocket.Conn, error) { return ws.Upgrade(m.upgrader(), w, r) }
		}
		raw, err := upgrade()
		if err != nil {
			return
		}
		c := ws.New(raw, o)
		if m.ownReader {
			c.Serve(echo(c), func(error) {})
			return
		}
		_ = c.ReadLoop(echo(c))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	before := memNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleDialer$")
	cmd.Env = append(os.Environ(), idleDialerEnv+"="+ln.Addr().String()+" "+strconv.Itoa(sockets))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("dialer: %q, %v", line, err)
	}
	// Idle is once the writers that sent the replies have ended.
	ws.Eventually(b, "every writer ended", func() bool { return ws.Writers() == 0 })
	after := memNow()
	per := func(a, z uint64) float64 { return (float64(z) - float64(a)) / float64(sockets) }
	b.ReportMetric(per(before.heap, after.heap), "heap-B/socket")
	b.ReportMetric(per(before.stack, after.stack), "stack-B/socket")
	b.ReportMetric(per(before.rss, after.rss), "rss-B/socket")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(sockets), "goroutines/socket")
}

type mem struct {
	heap, stack, rss uint64
	goroutines       int
}

func memNow() mem {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mem{heap: ms.HeapInuse, stack: ms.StackInuse, rss: rss(), goroutines: runtime.NumGoroutine()}
}

// rss is the process's resident set from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
