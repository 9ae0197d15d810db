// Package embedded runs the servers the one-process dev stack needs: a real
// NATS server with JetStream (nats-server, in process) and an in-process
// Redis-protocol server (miniredis).
package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// NATS is a running embedded NATS server.
type NATS struct {
	Server *server.Server
	Dir    string
}

// StartNATS starts a JetStream-enabled NATS server on host:port (port 0
// picks a free one), storing data under dir, with JetStream's default
// sync (every 2 minutes).
func StartNATS(host string, port int, dir string) (*NATS, error) {
	return StartNATSConfig(NATSConfig{Host: host, Port: port, Dir: dir})
}

// NATSConfig configures an embedded NATS server.
type NATSConfig struct {
	Host string
	Port int // 0: a free one
	Dir  string
	// Sync is how the JetStream file store reaches the disk: "" (the
	// server's default, every 2 minutes), a duration ("10s": fsync that
	// often) or "always" (fsync after every write: survives a machine
	// crash, costs throughput). Between syncs a stored message survives
	// a process kill (it is in the OS page cache) but not a power loss.
	Sync string
}

// ParseSync reads a sync setting: a positive duration or "always".
func ParseSync(s string) (interval time.Duration, always bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return 0, false, nil
	case "always":
		return 0, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("sync %q: want a positive duration (e.g. 2m, 10s) or always", s)
	}
	return d, false, nil
}

// StartNATSConfig starts a JetStream-enabled NATS server as c says.
func StartNATSConfig(c NATSConfig) (*NATS, error) {
	interval, always, err := ParseSync(c.Sync)
	if err != nil {
		return nil, fmt.Errorf("embedded: nats: %w", err)
	}
	opts := &server.Options{
		ServerName:   "switchyard-embedded",
		Host:         c.Host,
		Port:         c.Port,
		JetStream:    true,
		StoreDir:     c.Dir,
		NoSigs:       true,
		MaxPayload:   16 << 20,
		SyncInterval: interval,
		SyncAlways:   always,
	}
	if c.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded: nats on %s:%d not ready after 10s", c.Host, c.Port)
	}
	return &NATS{Server: s, Dir: c.Dir}, nil
}

// URL is the client URL of the server.
func (n *NATS) URL() string { return n.Server.ClientURL() }

// Shutdown stops the server and waits for it.
func (n *NATS) Shutdown() {
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
}

// Redis is a running in-process Redis-protocol server.
type Redis struct {
	M      *miniredis.Miniredis
	cancel context.CancelFunc
}

// StartRedis serves the Redis protocol on addr ("127.0.0.1:0" for a free
// port). miniredis only expires keys when told time has passed, so a ticker
// advances its clock in step with the wall clock.
func StartRedis(addr string) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded: redis on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		const step = 250 * time.Millisecond
		t := time.NewTicker(step)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.FastForward(step)
			}
		}
	}()
	return &Redis{M: m, cancel: cancel}, nil
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.M.Addr() + "/0" }

// Close stops the server.
func (r *Redis) Close() {
	r.cancel()
	r.M.Close()
}

// FreePort returns a TCP port that was free on host a moment ago, for a
// server another process will bind. It is chosen below the kernel's
// ephemeral range (32768+ on Linux), so an outgoing connection cannot take
// it in the meantime; port 0 (an ephemeral port) is the fallback.
func FreePort(host string) (int, error) {
	for i := 0; i < 64; i++ {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			_ = l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("embedded: free port: %w", err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return strconv.Atoi(p)
}
