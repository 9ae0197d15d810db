package config

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gatewayLike has the gateway's problem settings, as the issue met them.
type gatewayLike struct {
	Common
	PingPeriod time.Duration `flag:"ping-period" env:"SY_PING_PERIOD" default:"5s" usage:"ping"`
	RateLimit  float64       `flag:"rate-limit" env:"SY_RATE_LIMIT" default:"200" usage:"rate"`
}

// Each bad value names its variable, the value and what was wanted; all of
// them are reported at once.
func TestBadValuesSayWhatIsWanted(t *testing.T) {
	e := env{"SY_PING_PERIOD": "5", "SY_RATE_LIMIT": "fast", "SY_PARTITIONS": "abc", "SY_REDIS_CLUSTER": "on"}
	err := load(&gatewayLike{}, "svc", nil, e.lookup, io.Discard)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`SY_PING_PERIOD="5": want a duration with a unit, e.g. 5s`, "(flag -ping-period)",
		`SY_RATE_LIMIT="fast": want a number`, "(flag -rate-limit)",
		`SY_PARTITIONS="abc": want a whole number`, "(flag -partitions)",
		`SY_REDIS_CLUSTER="on": want true or false`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	err = load(&gatewayLike{}, "svc", []string{"-ping-period=5"}, env{}.lookup, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `invalid value "5" for flag -ping-period: want a duration with a unit`) {
		t.Errorf("flag error: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "Usage") {
		t.Errorf("a bad flag dumps the usage into the error: %v", err)
	}
}

func TestValidateNamesSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  func(*Common)
		want []string // fragments; none: valid
	}{
		{"log level verbose", func(c *Common) { c.LogLevel = "verbose" }, []string{`SY_LOG_LEVEL (-log-level) = "verbose": want one of debug, info, warn, error`}},
		{"log level upper", func(c *Common) { c.LogLevel = "DEBUG" }, nil},
		{"log format", func(c *Common) { c.LogFormat = "yaml" }, []string{`SY_LOG_FORMAT (-log-format) = "yaml": want text or json`}},
		{"partitions", func(c *Common) { c.Partitions = 0 }, []string{"SY_PARTITIONS (-partitions) = 0: want 1..1024"}},
		{"replicas", func(c *Common) { c.StreamReplicas = 7 }, []string{"SY_STREAM_REPLICAS (-stream-replicas) = 7"}},
		{"ttl", func(c *Common) { c.OwnerTTL = time.Second }, []string{"SY_OWNER_TTL (-owner-ttl) = 1s: must exceed SY_HEARTBEAT (-heartbeat) (5s)"}},
		{"nats host:port", func(c *Common) { c.NATSURL = "127.0.0.1:4222, nats://b:4223" }, nil},
		{"nats tls ws", func(c *Common) { c.NATSURL = "tls://a:1,ws://b:2,wss://c" }, nil},
		{"nats scheme", func(c *Common) { c.NATSURL = "http://a:4222" }, []string{`SY_NATS_URL (-nats-url) = "http://a:4222"`, "want nats://"}},
		{"nats port", func(c *Common) { c.NATSURL = "nats://a:42x22" }, []string{"SY_NATS_URL", "42x22"}},
		{"nats empty", func(c *Common) { c.NATSURL = " , " }, []string{"SY_NATS_URL", "at least one"}},
		{"nats password hidden", func(c *Common) { c.NATSURL = "nats://u:s3cret@a:4222,http://b" }, []string{"SY_NATS_URL", "u:xxxxx@a"}},
		{"redis url", func(c *Common) { c.RedisURL = "redis//h:6379" }, []string{"SY_REDIS_URL (-redis-url)", "want redis://"}},
		{"redis url password hidden", func(c *Common) { c.RedisURL = "http://u:s3cret@h:6379" }, []string{"SY_REDIS_URL", "u:xxxxx@h"}},
		{"redis rediss", func(c *Common) { c.RedisURL = "rediss://u:p@h:6380/2" }, nil},
		{"sentinel", func(c *Common) { c.RedisAddrs, c.RedisMasterName = []string{"s1:26379", "s2:26379"}, "mymaster" }, nil},
		{"cluster", func(c *Common) { c.RedisAddrs, c.RedisCluster = []string{"n1:6379"}, true }, nil},
		{"cluster from url", func(c *Common) { c.RedisCluster = true }, nil},
		{"cluster db", func(c *Common) { c.RedisCluster, c.RedisURL = true, "redis://h:1/3" }, []string{"SY_REDIS_URL", "only database 0"}},
		{"addrs alone", func(c *Common) { c.RedisAddrs = []string{"a:1", "b:2"} }, []string{"SY_REDIS_ADDRS", "SY_REDIS_MASTER_NAME", "SY_REDIS_CLUSTER"}},
		{"master without addrs", func(c *Common) { c.RedisMasterName = "m" }, []string{"SY_REDIS_ADDRS", "Sentinel"}},
		{"sentinel and cluster", func(c *Common) { c.RedisAddrs, c.RedisMasterName, c.RedisCluster = []string{"a:1"}, "m", true }, []string{"exclusive"}},
		{"bad addr", func(c *Common) { c.RedisAddrs, c.RedisCluster = []string{"a:1", "b"}, true }, []string{`SY_REDIS_ADDRS (-redis-addrs) = "b": want host:port`}},
		{"bad port", func(c *Common) { c.RedisAddrs, c.RedisCluster = []string{"a:99999"}, true }, []string{`"a:99999"`}},
		{"nats files", func(c *Common) { c.NATSTLSCA, c.NATSTLSCert, c.NATSTLSKey, c.NATSNkey = file, file, file, file }, nil},
		{"creds and nkey", func(c *Common) { c.NATSCreds, c.NATSNkey = file, file }, []string{"SY_NATS_NKEY", "exclusive"}},
		{"cert without key", func(c *Common) { c.NATSTLSCert = file }, []string{"SY_NATS_TLS_CERT", "SY_NATS_TLS_KEY"}},
		{"missing file", func(c *Common) { c.NATSCreds = filepath.Join(dir, "none.creds") }, []string{"SY_NATS_CREDS (-nats-creds)", "none.creds", "want a readable file"}},
	}
	for _, tc := range cases {
		var c Common
		Defaults(&c)
		tc.set(&c)
		err := c.Validate()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error shows the password: %v", tc.name, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://a:1":                   "nats://a:1",
		"nats://u:p@a:1,nats://b:2":    "nats://u:xxxxx@a:1,nats://b:2",
		"redis://:p@h:6379/0":          "redis://:xxxxx@h:6379/0",
		"redis://u:p@h:bad port":       "redis://u:xxxxx@h:bad port",
		"u:p@h:1":                      "u:xxxxx@h:1",
		"nats://tok@h:1":               "nats://tok@h:1", // a token is the user part: nats.go's own Redacted keeps it too
		"redis://u:p%zz@h":             "redis://u:xxxxx@h",
		"rediss://default:p@@weird:1/": "rediss://default:xxxxx@weird:1/",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Defaults applies the default tags and nothing else.
func TestDefaults(t *testing.T) {
	t.Setenv("T_NAME", "from-env")
	var c testConfig
	Defaults(&c)
	if c.Name != "dflt" || c.Count != 3 || c.Wait != time.Second || c.Big != 5000000000 || c.Ratio != 0.5 ||
		len(c.Tags) != 2 || c.Nested.Deep != "d0" || c.Partitions != 16 || c.Heartbeat != 5*time.Second {
		t.Errorf("Defaults: %+v", c)
	}
	defer func() {
		if recover() == nil {
			t.Error("a bad default tag did not panic")
		}
	}()
	var bad struct {
		N int `flag:"n" default:"many"`
	}
	Defaults(&bad)
}

func TestName(t *testing.T) {
	c := &gatewayLike{}
	for field, want := range map[string]string{
		"PingPeriod": "SY_PING_PERIOD (-ping-period)", "Partitions": "SY_PARTITIONS (-partitions)", "Nope": "Nope",
	} {
		if got := Name(c, field); got != want {
			t.Errorf("Name(%s) = %q, want %q", field, got, want)
		}
	}
	if got := Name(&testConfig{}, "NoEnv"); got != "-no-env" {
		t.Errorf("Name(NoEnv) = %q", got)
	}
}

// LoadOrExit, as a main calls it: the process prints every bad setting to
// stderr and exits 2; -h exits 0; good settings carry on.
func TestLoadOrExit(t *testing.T) {
	if os.Getenv("CONFIG_TEST_MAIN") == "1" {
		var c gatewayLike
		LoadOrExit(&c, "sy-test", strings.Fields(os.Getenv("CONFIG_TEST_ARGS")))
		os.Stdout.WriteString("started\n")
		os.Exit(0)
	}
	cases := []struct {
		env    []string
		args   string
		code   int
		stderr []string
	}{
		{[]string{"SY_PING_PERIOD=5", "SY_RATE_LIMIT=fast", "SY_PARTITIONS=abc"}, "", 2,
			[]string{"sy-test: configuration is not valid:", `  SY_PING_PERIOD="5": want a duration`, `  SY_RATE_LIMIT="fast": want a number`, `  SY_PARTITIONS="abc": want a whole number`, "sy-test -h"}},
		{[]string{"SY_LOG_LEVEL=verbose"}, "", 2, []string{`SY_LOG_LEVEL (-log-level) = "verbose": want one of debug, info, warn, error`}},
		{[]string{"SY_NATS_URL=nats://u:pw@host:port"}, "", 2, []string{"SY_NATS_URL (-nats-url)", "u:xxxxx@host"}},
		{nil, "-partitions=0", 2, []string{"SY_PARTITIONS (-partitions) = 0"}},
		{nil, "-nope", 2, []string{"flag provided but not defined: -nope"}},
		{nil, "-h", 0, []string{"-ping-period", "[SY_PING_PERIOD]"}},
		{[]string{"SY_PING_PERIOD=2s"}, "-log-level=debug", 0, nil},
	}
	for _, tc := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadOrExit$")
		cmd.Env = append(os.Environ(), append(tc.env, "CONFIG_TEST_MAIN=1", "CONFIG_TEST_ARGS="+tc.args)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%v %s: exit %d, want %d; stderr:\n%s", tc.env, tc.args, code, tc.code, stderr.String())
		}
		for _, w := range tc.stderr {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v %s: stderr lacks %q:\n%s", tc.env, tc.args, w, stderr.String())
			}
		}
		if strings.Contains(stderr.String(), "pw@") {
			t.Errorf("%v: stderr shows a password:\n%s", tc.env, stderr.String())
		}
		if started := strings.Contains(stdout.String(), "started"); started != (tc.code == 0 && tc.args != "-h") {
			t.Errorf("%v %s: started=%v", tc.env, tc.args, started)
		}
	}
}
