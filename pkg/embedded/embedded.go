// Package embedded runs the servers the one-process dev stack needs: a real
// NATS server with JetStream (nats-server, in process) and an in-process
// Redis-protocol server (miniredis).
package embedded

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
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

	// Name is the server's name ("" : "switchyard-embedded"). The nodes
	// of a JetStream cluster need names of their own, kept across
	// restarts (a node's raft identity follows it).
	Name string
	// Cluster is the cluster's name; with ClusterListen it makes this
	// server a node of a (JetStream) cluster.
	Cluster string
	// ClusterListen is the host:port the server takes routes from the
	// other nodes on ("" : not clustered; port 0: a free one).
	ClusterListen string
	// Routes are the other nodes' cluster addresses
	// (nats-route://host:port); one reachable node is enough, the
	// others are learned from it.
	Routes []string
}

// Clustered reports whether c makes the server a cluster node.
func (c NATSConfig) Clustered() bool {
	return c.ClusterListen != "" || c.Cluster != "" || len(c.Routes) > 0
}

// ClusterProblem is one bad clustering setting of a NATSConfig.
type ClusterProblem struct {
	Field   string // the NATSConfig field: Cluster, ClusterListen, Name or Routes
	Problem string
}

// ClusterProblems checks the clustering settings: a clustered node needs
// a cluster name, a cluster listen address and a name; routes must be
// nats-route://host:port. The one rule set of the embedded server and of
// the dev stack's settings (which name their own variables).
func (c NATSConfig) ClusterProblems() []ClusterProblem {
	if !c.Clustered() {
		return nil
	}
	var out []ClusterProblem
	bad := func(field, problem string) { out = append(out, ClusterProblem{field, problem}) }
	if c.Cluster == "" {
		bad("Cluster", "a clustered node needs the cluster's name (the same on every node)")
	}
	if c.ClusterListen == "" {
		bad("ClusterListen", "a clustered node needs a cluster listen address (host:port)")
	} else if _, _, err := SplitHostPort(c.ClusterListen); err != nil {
		bad("ClusterListen", err.Error())
	}
	if c.Name == "" {
		bad("Name", "each node of a cluster needs a server name of its own")
	}
	if _, err := ParseRoutes(c.Routes); err != nil {
		bad("Routes", err.Error())
	}
	return out
}

// CheckCluster is ClusterProblems as one error ("cluster listen: ...").
func (c NATSConfig) CheckCluster() error {
	label := map[string]string{"Cluster": "cluster", "ClusterListen": "cluster listen", "Name": "name", "Routes": "routes"}
	var errs []error
	for _, p := range c.ClusterProblems() {
		errs = append(errs, fmt.Errorf("%s: %s", label[p.Field], p.Problem))
	}
	return errors.Join(errs...)
}

// ParseRoutes reads route URLs: nats-route://host:port (or nats://),
// with a host and a numeric port.
func ParseRoutes(routes []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range routes {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r, errors.Unwrap(err))
		}
		if u.Scheme != "nats-route" && u.Scheme != "nats" {
			return nil, fmt.Errorf("route %q: want nats-route://host:port", r)
		}
		if _, port, err := SplitHostPort(u.Host); err != nil || port == 0 {
			return nil, fmt.Errorf("route %q: want nats-route://host:port with a port", r)
		}
		out = append(out, u)
	}
	return out, nil
}

// SplitHostPort reads host:port with a numeric port (0..65535).
func SplitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: want host:port", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: port %q is not a number in 0..65535", addr, p)
	}
	return host, port, nil
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
	if err := c.CheckCluster(); err != nil {
		return nil, fmt.Errorf("embedded: nats: %w", err)
	}
	name := c.Name
	if name == "" {
		name = "switchyard-embedded"
	}
	opts := &server.Options{
		ServerName:   name,
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
	if c.Clustered() {
		host, port, _ := SplitHostPort(c.ClusterListen)
		if port == 0 {
			port = server.RANDOM_PORT
		}
		opts.Cluster = server.ClusterOpts{Name: c.Cluster, Host: host, Port: port}
		opts.Routes, _ = ParseRoutes(c.Routes)
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

// ClusterAddr is the host:port the server takes routes on ("" when not
// clustered).
func (n *NATS) ClusterAddr() string {
	if a := n.Server.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

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
