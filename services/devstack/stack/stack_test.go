package stack

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

func testConfig(t *testing.T, dir string) Config {
	t.Helper()
	var cfg Config
	config.Defaults(&cfg)
	cfg.DataDir, cfg.Listen, cfg.LogLevel = dir, "127.0.0.1:0", "error"
	return cfg
}

// A second dev stack on the same data directory refuses, naming the
// directory and the flag that chooses another; once the first stops, the
// directory is free again.
func TestDataDirLocked(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.NATSOnly = true
	first, err := Start(ctx, cfg, process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Start(ctx, cfg, process.Options{})
	if err == nil {
		second.Stop()
		first.Stop()
		t.Fatal("a second dev stack started on the same data directory")
	}
	for _, want := range []string{"data directory " + dir + " is in use by another dev stack", "-data DIR", "SY_DATA_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The full stack is refused too, before it starts any service.
	full := testConfig(t, dir)
	if st, err := Start(ctx, full, process.Options{}); err == nil {
		st.Stop()
		t.Error("a full dev stack started on a locked directory")
	}
	first.Stop()
	third, err := Start(ctx, cfg, process.Options{})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	third.Stop()
}

// The dev stack's /metrics serves the Go and process collectors and the
// build, as docs/metrics.md says every service does.
func TestMetricsHaveRuntimeCollectors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st, err := Start(ctx, testConfig(t, t.TempDir()), process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	resp, err := http.Get(st.GatewayURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_resident_memory_bytes ", "\nswitchyard_build_info{"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		set  func(*Config)
		want string
	}{
		"sync word":     {func(c *Config) { c.NATSSync = "soon" }, `SY_DEV_NATS_SYNC (-nats-sync) = "soon": want a positive duration`},
		"sync always":   {func(c *Config) { c.NATSSync = "always" }, ""},
		"sync interval": {func(c *Config) { c.NATSSync = "1s" }, ""},
		"log level":     {func(c *Config) { c.LogLevel = "verbose" }, `SY_LOG_LEVEL (-log-level) = "verbose": want one of debug, info, warn, error`},
		"nats url":      {func(c *Config) { c.NATSURL = "http://x:1" }, "SY_NATS_URL (-nats-url)"},
		"redis url":     {func(c *Config) { c.RedisURL = "mysql://x" }, "SY_REDIS_URL (-redis-url)"},
		"cluster node": {func(c *Config) {
			c.NATSName, c.NATSCluster, c.NATSClusterListen = "n1", "sy", "127.0.0.1:6222"
			c.NATSRoutes = []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"}
		}, ""},
		"cluster without name": {func(c *Config) { c.NATSCluster, c.NATSClusterListen = "sy", "127.0.0.1:6222" },
			`SY_DEV_NATS_NAME (-nats-name) = "": each node of a cluster needs a server name of its own`},
		"cluster without cluster name": {func(c *Config) { c.NATSName, c.NATSClusterListen = "n1", "127.0.0.1:6222" },
			`SY_DEV_NATS_CLUSTER (-nats-cluster) = "": a clustered node needs the cluster's name`},
		"routes without listen": {func(c *Config) { c.NATSName, c.NATSCluster, c.NATSRoutes = "n1", "sy", []string{"nats-route://h:1"} },
			`SY_DEV_NATS_CLUSTER_LISTEN (-nats-cluster-listen) = "": a clustered node needs a cluster listen address`},
		"cluster listen": {func(c *Config) { c.NATSName, c.NATSCluster, c.NATSClusterListen = "n1", "sy", "6222" },
			`SY_DEV_NATS_CLUSTER_LISTEN (-nats-cluster-listen) = "6222": address "6222": want host:port`},
		"route scheme": {func(c *Config) {
			c.NATSName, c.NATSCluster, c.NATSClusterListen, c.NATSRoutes = "n1", "sy", "h:1", []string{"nats-route://h:2", "http://h:3"}
		}, `SY_DEV_NATS_ROUTES (-nats-routes) = "nats-route://h:2,http://h:3": route "http://h:3": want nats-route://host:port`},
		"route port": {func(c *Config) {
			c.NATSName, c.NATSCluster, c.NATSClusterListen, c.NATSRoutes = "n1", "sy", "h:1", []string{"nats-route://h"}
		},
			`SY_DEV_NATS_ROUTES (-nats-routes) = "nats-route://h": route "nats-route://h": want nats-route://host:port with a port`},
		"cluster with external nats": {func(c *Config) { c.NATSURL, c.NATSCluster = "nats://x:4222", "sy" },
			`SY_DEV_NATS_CLUSTER (-nats-cluster) = "sy": clustering is for the embedded NATS, and with SY_NATS_URL (-nats-url) set none runs`},
	}
	for name, tc := range cases {
		var c Config
		config.Defaults(&c)
		tc.set(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestBannerMasksCustomTokens: the banner prints the dev default tokens,
// never a configured one.
func TestBannerMasksCustomTokens(t *testing.T) {
	st := &Stack{GatewayURL: "http://127.0.0.1:8080", NATSURL: "nats://x", RedisURL: "redis://x"}
	cfg := Config{RuntimeTokens: []string{"dev-runtime-token=*", "s3cretRuntimeTok=rt1"}, ClientTokens: []string{"dev-client-token=dev", "hunter2hunter2=alice"}}
	var b strings.Builder
	st.PrintBanner(&b, cfg)
	out := b.String()
	for _, secret := range []string{"s3cretRuntimeTok", "hunter2hunter2"} {
		if strings.Contains(out, secret) {
			t.Fatalf("banner prints the token %q:\n%s", secret, out)
		}
	}
	for _, shown := range []string{"dev-runtime-token=*", "dev-client-token=dev", "=rt1", "=alice"} {
		if !strings.Contains(out, shown) {
			t.Fatalf("banner lacks %q:\n%s", shown, out)
		}
	}
}
