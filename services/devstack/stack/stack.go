// Package stack runs the whole hub in one process: an embedded NATS
// JetStream server, an embedded Redis-protocol server (or external ones),
// and one gateway, one session, one relay and one upload service. The services talk
// over NATS exactly as they do when deployed apart; nothing is short-cut
// in process.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/embedded"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/chat"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/device"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/pod"
	"github.com/switchyard-hub/switchyard/services/relay/routing"
	"github.com/switchyard-hub/switchyard/services/session/sessions"
	"github.com/switchyard-hub/switchyard/services/upload/uploads"
)

// Config is the dev stack's configuration.
type Config struct {
	Listen        string   `flag:"listen" env:"SY_LISTEN" default:"127.0.0.1:8080" usage:"gateway address"`
	DataDir       string   `flag:"data" env:"SY_DATA_DIR" default:"" usage:"embedded NATS JetStream data directory (default: <user cache>/switchyard/devstack)"`
	NATSListen    string   `flag:"nats-listen" env:"SY_DEV_NATS_LISTEN" default:"127.0.0.1:0" usage:"embedded NATS address (port 0: a free one)"`
	RedisListen   string   `flag:"redis-listen" env:"SY_DEV_REDIS_LISTEN" default:"127.0.0.1:0" usage:"embedded Redis-protocol address (port 0: a free one)"`
	NATSURL       string   `flag:"nats-url" env:"SY_NATS_URL" default:"" usage:"use this external NATS (JetStream) instead of the embedded one"`
	RedisURL      string   `flag:"redis-url" env:"SY_REDIS_URL" default:"" usage:"use this external Redis instead of the embedded one"`
	RuntimeTokens []string `flag:"runtime-tokens" env:"SY_RUNTIME_TOKENS" default:"dev-runtime-token=*" usage:"token=runtime_id list"`
	ClientTokens  []string `flag:"client-tokens" env:"SY_CLIENT_TOKENS" default:"dev-client-token=dev" usage:"token=user_id list"`
	OTLPEndpoint  string   `flag:"otlp-endpoint" env:"SY_OTLP_ENDPOINT" default:"" usage:"OTLP/HTTP trace endpoint (empty: off)"`
	LogLevel      string   `flag:"log-level" env:"SY_LOG_LEVEL" default:"info" usage:"debug, info, warn or error"`
	Namespace     string   `flag:"namespace" env:"SY_NAMESPACE" default:"" usage:"prefix of every NATS stream, bucket and subject and every Redis key, for a stack sharing -nats-url/-redis-url with another installation"`
	// ChatCompatListen serves the chat stream at document 002's URL
	// (ws://127.0.0.1:3000/ws?token=…); a busy port is logged, not fatal.
	ChatCompatListen string `flag:"chat-compat-listen" env:"SY_CHAT_COMPAT_LISTEN" default:"127.0.0.1:3000" usage:"chat compatibility listener (/ws?token=…); empty: off"`
	// NATSOnly runs just the embedded NATS server: multi-process clusters
	// on one machine use it as their (killable, restartable) NATS.
	NATSOnly bool `flag:"nats-only" env:"SY_DEV_NATS_ONLY" default:"false" usage:"run only the embedded NATS JetStream server"`
	// DeviceCompat is the gateway's device compatibility listener
	// (document 001's ws://host:9999/ws); a busy port turns it off with a
	// warning.
	DeviceCompat string `flag:"device-compat" env:"SY_DEV_DEVICE_COMPAT" default:"127.0.0.1:9999" usage:"device compatibility listener for controllers that dial ws://host:port/ws (empty: off)"`
	// NATSSync is the embedded JetStream file store's fsync policy
	// (docs/configuration.md, "Durability").
	NATSSync string `flag:"nats-sync" env:"SY_DEV_NATS_SYNC" default:"2m" usage:"embedded JetStream fsync: a duration (sync that often; JetStream's default 2m) or always (fsync every write)"`
	// The embedded NATS as one node of a JetStream cluster (with
	// -nats-only, a multi-process cluster on one machine: tests/cluster
	// runs three). A node needs a name of its own, the cluster's name and
	// a cluster listen address; routes name the other nodes.
	NATSName          string   `flag:"nats-name" env:"SY_DEV_NATS_NAME" default:"" usage:"embedded NATS server name, unique per cluster node and kept across restarts (empty: switchyard-embedded)"`
	NATSCluster       string   `flag:"nats-cluster" env:"SY_DEV_NATS_CLUSTER" default:"" usage:"embedded NATS cluster name: with -nats-cluster-listen the server is a JetStream cluster node (empty: not clustered)"`
	NATSClusterListen string   `flag:"nats-cluster-listen" env:"SY_DEV_NATS_CLUSTER_LISTEN" default:"" usage:"host:port the embedded NATS takes cluster routes on (port 0: a free one; empty: not clustered)"`
	NATSRoutes        []string `flag:"nats-routes" env:"SY_DEV_NATS_ROUTES" default:"" usage:"comma list of nats-route://host:port of the other cluster nodes (this node's own address may be listed)"`
}

// natsConfig is the embedded NATS server's configuration.
func (c *Config) natsConfig(host string, port int, dir string) embedded.NATSConfig {
	return embedded.NATSConfig{Host: host, Port: port, Dir: dir, Sync: c.NATSSync,
		Name: c.NATSName, Cluster: c.NATSCluster, ClusterListen: c.NATSClusterListen, Routes: c.NATSRoutes}
}

// validateCluster names each bad clustering setting.
func (c *Config) validateCluster() []error {
	n := c.natsConfig("", 0, "")
	if !n.Clustered() {
		return nil
	}
	if c.NATSURL != "" {
		field, got := "NATSRoutes", strings.Join(c.NATSRoutes, ",")
		if c.NATSClusterListen != "" {
			field, got = "NATSClusterListen", c.NATSClusterListen
		} else if c.NATSCluster != "" {
			field, got = "NATSCluster", c.NATSCluster
		}
		return []error{config.Invalid(c, field, got, "clustering is for the embedded NATS, and with "+config.Name(c, "NATSURL")+" set none runs")}
	}
	fields := map[string]struct {
		name, value string
	}{
		"Cluster": {"NATSCluster", c.NATSCluster}, "ClusterListen": {"NATSClusterListen", c.NATSClusterListen},
		"Name": {"NATSName", c.NATSName}, "Routes": {"NATSRoutes", strings.Join(c.NATSRoutes, ",")},
	}
	var errs []error
	for _, p := range n.ClusterProblems() {
		f := fields[p.Field]
		errs = append(errs, config.Invalid(c, f.name, f.value, p.Problem))
	}
	return errs
}

// Validate checks the dev stack's settings, naming each bad one.
func (c *Config) Validate() error {
	var errs []error
	if !slices.Contains(config.LogLevels, strings.ToLower(c.LogLevel)) {
		errs = append(errs, config.Invalid(c, "LogLevel", c.LogLevel, "want one of "+strings.Join(config.LogLevels, ", ")))
	}
	if err := namespace.Check(c.Namespace); err != nil {
		errs = append(errs, config.Invalid(c, "Namespace", c.Namespace, err.Error()))
	}
	if _, _, err := embedded.ParseSync(c.NATSSync); err != nil {
		errs = append(errs, config.Invalid(c, "NATSSync", c.NATSSync, "want a positive duration (e.g. 2m, 10s) or always"))
	}
	if c.NATSURL != "" {
		if err := config.CheckNATSURLs(c.NATSURL); err != nil {
			errs = append(errs, config.Invalid(c, "NATSURL", config.RedactURL(c.NATSURL), err.Error()))
		}
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			errs = append(errs, config.Invalid(c, "RedisURL", config.RedactURL(c.RedisURL), "want redis://host:port/db: "+err.Error()))
		}
	}
	errs = append(errs, c.validateCluster()...)
	return errors.Join(errs...)
}

// Stack is a running dev stack.
type Stack struct {
	GatewayURL string // http://host:port
	// ChatURL is the chat compatibility listener's ws://host:port/ws ("" when off).
	ChatURL string
	// DeviceURL is the device compatibility listener (ws://host:port/ws),
	// "" when off.
	DeviceURL string
	NATSURL   string
	RedisURL  string
	DataDir   string

	nats   *embedded.NATS
	lock   *embedded.DirLock
	redis  *embedded.Redis
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
}

// Start brings the stack up and returns when the gateway listens.
func Start(ctx context.Context, cfg Config, o process.Options) (*Stack, error) {
	st := &Stack{NATSURL: cfg.NATSURL, RedisURL: cfg.RedisURL, errs: make(chan error, 4)}
	if cfg.NATSOnly {
		st.RedisURL = "-"
	}
	if err := st.startServers(cfg); err != nil {
		st.stopServers()
		return nil, err
	}
	if cfg.NATSOnly {
		return st, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	st.cancel = cancel
	started := make(chan *edge.Server, 1)
	ready := make(chan struct{}, 3)
	if err := st.startServices(runCtx, cfg, o, started, ready); err != nil {
		st.Stop()
		return nil, err
	}
	// Serve only once every service is up: a runtime's hello needs the relay.
	for waiting := 4; waiting > 0; waiting-- {
		select {
		case gw := <-started:
			st.GatewayURL = "http://" + gw.Addr()
			if a := gw.ListenAddr(chat.ListenerName); a != "" {
				st.ChatURL = "ws://" + a + "/ws"
			}
			if a := device.CompatAddr(gw); a != "" {
				st.DeviceURL = "ws://" + a + device.PathCompat
			}
		case <-ready:
		case err := <-st.errs:
			st.Stop()
			return nil, err
		case <-ctx.Done():
			st.Stop()
			return nil, ctx.Err()
		}
	}
	return st, nil
}

func (st *Stack) startServers(cfg Config) error {
	if st.NATSURL == "" {
		dir := cfg.DataDir
		if dir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				cache = os.TempDir()
			}
			dir = filepath.Join(cache, "switchyard", "devstack")
		}
		host, port, err := splitHostPort(cfg.NATSListen)
		if err != nil {
			return err
		}
		if st.lock, err = lockDataDir(dir); err != nil {
			return err
		}
		if st.nats, err = embedded.StartNATSConfig(cfg.natsConfig(host, port, dir)); err != nil {
			return err
		}
		st.NATSURL, st.DataDir = st.nats.URL(), dir
	}
	if st.RedisURL == "" {
		r, err := embedded.StartRedis(cfg.RedisListen)
		if err != nil {
			return err
		}
		st.redis, st.RedisURL = r, r.URL()
	}
	return nil
}

// lockDataDir makes sure no other dev stack uses dir: two JetStream
// servers on one store corrupt it.
func lockDataDir(dir string) (*embedded.DirLock, error) {
	l, err := embedded.LockDir(dir)
	if errors.Is(err, embedded.ErrDirLocked) {
		return nil, fmt.Errorf("data directory %s is in use by another dev stack (%w): stop it, or choose another directory with -data DIR (SY_DATA_DIR)", dir, err)
	}
	return l, err
}

// common builds the shared block of a service's configuration: its own
// defaults (and SY_* variables), then the stack's servers.
func (st *Stack) common(c *config.Common, cfg Config, pod string) {
	c.Pod, c.NATSURL, c.RedisURL = pod, st.NATSURL, st.RedisURL
	c.OTLPEndpoint, c.LogLevel, c.Namespace = cfg.OTLPEndpoint, cfg.LogLevel, cfg.Namespace
}

func (st *Stack) startServices(ctx context.Context, cfg Config, o process.Options, started chan<- *edge.Server, ready chan<- struct{}) error {
	var scfg sessions.Config
	var rcfg routing.Config
	var gcfg edge.Config
	var ucfg uploads.Config
	for name, c := range map[string]any{"session": &scfg, "relay": &rcfg, "gateway": &gcfg, "upload": &ucfg} {
		if err := config.Load(c, name, nil); err != nil {
			return err
		}
	}
	st.common(&scfg.Common, cfg, "dev-session")
	st.common(&rcfg.Common, cfg, "dev-relay")
	st.common(&gcfg.Common, cfg, "dev-gateway")
	st.common(&ucfg.Common, cfg, "dev-upload")
	scfg.HTTPListen, rcfg.HTTPListen, ucfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	rcfg.RuntimeTokens = cfg.RuntimeTokens
	gcfg.Listen, gcfg.ClientTokens = cfg.Listen, cfg.ClientTokens
	// The push channels' document trusts the loopback binding: token-less
	// loopback readers are admins in the dev stack only.
	if _, set := os.LookupEnv("SY_PUSH_LOOPBACK_OPEN"); !set {
		gcfg.PushLoopbackOpen = true
	}
	gcfg.Chat.CompatListen, gcfg.Chat.CompatOptional = cfg.ChatCompatListen, true
	gcfg.DeviceCompatListen = cfg.DeviceCompat // optional in the gateway: a busy port is logged and skipped
	if len(gcfg.AllowedOrigins) == 0 {
		gcfg.AllowedOrigins = edge.LoopbackOrigins // pages on this machine (SY_ALLOWED_ORIGINS replaces them)
	}
	reg := o.Registry
	if reg == nil {
		// The served /metrics: Go and process collectors and the build,
		// like every service's (docs/metrics.md).
		reg = telemetry.NewRegistry()
	}
	// Each service registers its own metrics; one registry would reject
	// the process collectors registered three times. The gateway starts
	// (and so answers /readyz and takes sockets) only once the other
	// three serve: a runtime's first hello needs the relay.
	up := make(chan struct{}, 3)
	run := func(name string, f func(process.Options) error) {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			so := o
			so.Started = func() { up <- struct{}{}; ready <- struct{}{} }
			so.Registry = prometheus.NewRegistry()
			if name == "gateway" {
				so.Started, so.Registry = func() { ready <- struct{}{} }, reg
				for range 3 {
					select {
					case <-up:
					case <-ctx.Done():
						return
					}
				}
			}
			if err := f(so); err != nil && !errors.Is(err, context.Canceled) {
				st.errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	run("session", func(so process.Options) error { return sessions.Run(ctx, scfg, so) })
	run("relay", func(so process.Options) error { return routing.Run(ctx, rcfg, so) })
	run("upload", func(so process.Options) error { return uploads.Run(ctx, ucfg, so) })
	run("gateway", func(so process.Options) error {
		return pod.Run(ctx, gcfg, so, func(s *edge.Server) { started <- s })
	})
	return nil
}

// Err reports a service that stopped on its own.
func (st *Stack) Err() <-chan error { return st.errs }

// Stop drains the services, then stops the embedded servers.
func (st *Stack) Stop() {
	if st.cancel != nil {
		st.cancel()
	}
	st.wg.Wait()
	st.stopServers()
}

func (st *Stack) stopServers() {
	if st.nats != nil {
		st.nats.Shutdown()
	}
	st.lock.Unlock()
	if st.redis != nil {
		st.redis.Close()
	}
}

// PrintBanner writes where everything is and how to use it.
func (st *Stack) PrintBanner(w io.Writer, cfg Config) {
	if cfg.NATSOnly {
		fmt.Fprintf(w, "nats %s (embedded JetStream, data in %s)\n", st.NATSURL, st.DataDir)
		if st.nats != nil && st.nats.ClusterAddr() != "" {
			fmt.Fprintf(w, "cluster %s node %s, routes on %s\n", cfg.NATSCluster, cfg.NATSName, st.nats.ClusterAddr())
		}
		return
	}
	ws := "ws" + st.GatewayURL[len("http"):]
	fmt.Fprintf(w, "Switchyard dev stack is up\n")
	fmt.Fprintf(w, "  gateway   %s  (REST %s/v1/…, health %s/readyz, metrics %s/metrics)\n", st.GatewayURL, st.GatewayURL, st.GatewayURL, st.GatewayURL)
	fmt.Fprintf(w, "  console   %s/console/  (sign in with a client token)\n", st.GatewayURL)
	fmt.Fprintf(w, "  runtimes  %s/ws/runtime   clients %s/ws/client?token=…\n", ws, ws)
	if st.ChatURL != "" {
		fmt.Fprintf(w, "  chat      %s?token=…  (and %s/ws/chat?token=…)\n", st.ChatURL, ws)
	} else {
		fmt.Fprintf(w, "  chat      %s/ws/chat?token=…\n", ws)
	}
	if st.DeviceURL != "" {
		fmt.Fprintf(w, "  devices   controllers %s (document 001's URL) or %s/ws/device/{device_id}\n", st.DeviceURL, ws)
	} else {
		fmt.Fprintf(w, "  devices   controllers %s/ws/device/{device_id} (compatibility listener off)\n", ws)
	}
	if st.nats != nil {
		fmt.Fprintf(w, "  nats      %s  (embedded JetStream, data in %s)\n", st.NATSURL, st.DataDir)
	} else {
		fmt.Fprintf(w, "  nats      %s  (external)\n", st.NATSURL)
	}
	if st.redis != nil {
		fmt.Fprintf(w, "  redis     %s  (embedded Redis-protocol server)\n", st.RedisURL)
	} else {
		fmt.Fprintf(w, "  redis     %s  (external)\n", st.RedisURL)
	}
	fmt.Fprintf(w, "  tokens    runtime %v  client %v\n", bannerTokens(cfg.RuntimeTokens, devRuntimeTokens), bannerTokens(cfg.ClientTokens, devClientTokens))
	fmt.Fprintf(w, "Next, in another terminal:\n")
	fmt.Fprintf(w, "  go run ./services/examples/shellruntime -hub %s/ws/runtime\n", ws)
	fmt.Fprintf(w, "  go run ./services/examples/termclient -hub %s\n", st.GatewayURL)
	fmt.Fprintf(w, "  go run ./services/examples/deviceagent -hub %s/ws/runtime -id deck   # then: go run ./services/examples/devicectl -hub %s/ws/device/deck pair\n", ws, ws)
}

// The dev stack's default tokens: the only ones the banner prints whole.
const (
	devRuntimeTokens = "dev-runtime-token=*"
	devClientTokens  = "dev-client-token=dev"
)

// bannerTokens shows token=principal entries with every token that is not
// one of the dev defaults masked (its first two characters, then "…"), so
// a banner in a log or a screenshot never holds a real credential.
func bannerTokens(entries []string, defaults string) []string {
	dev := strings.Split(defaults, ",")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if slices.Contains(dev, e) {
			out = append(out, e)
			continue
		}
		tok, who, _ := strings.Cut(e, "=")
		if len(tok) > 2 {
			tok = tok[:2]
		}
		out = append(out, tok+"…(masked)="+who)
	}
	return out
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("stack: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("stack: port in %q: %w", addr, err)
	}
	return host, port, nil
}
