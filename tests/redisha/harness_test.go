// Package redisha runs ownership against real highly available Redis
// set-ups on loopback: Sentinel (a master, a replica and a Sentinel, as
// redis-server processes) and a 3-master Redis Cluster. Every server is a
// child process of the test, killed at its end.
package redisha

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// binaries returns redis-server and redis-cli, or skips with the reason
// and the command that installs them.
func binaries(t *testing.T) (server, cli string) {
	t.Helper()
	var err error
	if server, err = exec.LookPath("redis-server"); err != nil {
		t.Skipf("redis-server not found (%v): run `make test-deps` (apt-get install redis-server)", err)
	}
	if cli, err = exec.LookPath("redis-cli"); err != nil {
		t.Skipf("redis-cli not found (%v): run `make test-deps` (apt-get install redis-tools)", err)
	}
	return server, cli
}

// node is one redis-server process.
type node struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func (n *node) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// start runs redis-server with args (a config file first, for Sentinel).
func start(t *testing.T, bin string, port int, args ...string) *node {
	t.Helper()
	n := &node{port: port, dir: t.TempDir()}
	base := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", n.dir, "--daemonize", "no", "--logfile", filepath.Join(n.dir, "redis.log")}
	n.cmd = exec.Command(bin, append(base, args...)...)
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(n.kill)
	n.waitPing(t)
	return n
}

// startSentinel runs redis-server --sentinel monitoring master as
// "mymaster" with quorum 1, declaring it down after 1 s of silence.
func startSentinel(t *testing.T, bin string, port int, master *node) *node {
	t.Helper()
	n := &node{port: port, dir: t.TempDir()}
	conf := writeFile(t, filepath.Join(n.dir, "sentinel.conf"), `port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor mymaster 127.0.0.1 %d 1
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
`, port, n.dir, filepath.Join(n.dir, "redis.log"), master.port)
	n.cmd = exec.Command(bin, conf, "--sentinel")
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(n.kill)
	n.waitPing(t)
	return n
}

// kill ends the server like a crash (SIGKILL).
func (n *node) kill() {
	if n.cmd.Process != nil && n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
	}
}

func (n *node) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1, DialTimeout: time.Second})
}

// waitPing waits for the process to answer. It is starting: there is no
// event to wait on, so it polls, bounded.
func (n *node) waitPing(t *testing.T) {
	t.Helper()
	c := n.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
			t.Fatalf("redis on %s not up: %v\n%s", n.addr(), err, tail(log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond (a server-side state with no notification), at
// most limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port below the ephemeral range that is free
// together with port+10000 (a cluster node's bus port), so no outgoing
// connection takes either meanwhile.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		p := 20000 + rand.IntN(2700)
		if free(p) && free(p+10000) {
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func writeFile(t *testing.T, path, format string, args ...any) string {
	t.Helper()
	if err := os.WriteFile(path, fmt.Appendf(nil, format, args...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
