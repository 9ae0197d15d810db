// Package testenv starts the real servers integration tests run against: an
// embedded nats-server with JetStream and a redis-server process. Tests never
// depend on a NATS or Redis that happens to be running on the machine.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/embedded"
)

// NATS starts an embedded JetStream server for the test and returns its URL.
func NATS(t testing.TB) *embedded.NATS {
	t.Helper()
	n, err := embedded.StartNATS("127.0.0.1", 0, t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(n.Shutdown)
	return n
}

// Redis is a redis-server process owned by a test.
type Redis struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Client returns a go-redis client closed at the end of the test.
func (r *Redis) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartRedis runs redis-server on a free loopback port. The binary is found
// on PATH or in /usr/bin; `make test-deps` installs it. A missing binary
// fails the test with the command to fix it (never a silent skip).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := startRedis(t.TempDir(), 0)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { r.Stop() })
	return r
}

// RedisBinary locates redis-server.
func RedisBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("redis-server not found: run `make test-deps` (apt-get install redis-server)")
}

func startRedis(dir string, port int) (*Redis, error) {
	bin, err := RedisBinary()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = embedded.FreePort("127.0.0.1"); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, dir: dir}
	if err := r.waitReady(10 * time.Second); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Redis) waitReady(limit time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not ready: %v; log: %s", r.Addr, err, r.logTail())
		}
		time.Sleep(20 * time.Millisecond) // polling a process that is starting: no event to wait on
	}
}

func (r *Redis) logTail() string {
	f, err := os.Open(filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}

// Stop kills the server (like a crash: nothing is saved).
func (r *Redis) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// Restart kills the server and starts a new, empty one on the same port.
func (r *Redis) Restart() error {
	r.Stop()
	port, _ := strconv.Atoi(strings.TrimPrefix(r.Addr, "127.0.0.1:"))
	nr, err := startRedis(r.dir, port)
	if err != nil {
		return err
	}
	r.cmd = nr.cmd
	return nil
}

// Bus connects to url, waits for JetStream and closes the connection at
// the end of the test.
func Bus(t testing.TB, url, name string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, url, name, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(b.Close)
	if err := b.WaitReady(ctx); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return b
}

// Catalog opens the session and endpoint records (pkg/catalog) of the hub
// on url over a connection of the test's own.
func Catalog(t testing.TB, url string) *catalog.Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := catalog.Open(ctx, Bus(t, url, "test-catalog"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return c
}

// Streams starts NATS, connects a Bus and creates Switchyard's streams.
func Streams(t testing.TB) (url string, b *bus.Bus) {
	t.Helper()
	n := NATS(t)
	b = Bus(t, n.URL(), "test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureStreams(ctx, bus.Limits{}); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return n.URL(), b
}
