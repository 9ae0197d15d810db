package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testConfig has one field of every supported type, a nested struct and
// the embedded Common block, like a service's configuration.
type testConfig struct {
	Common
	Name   string        `flag:"name" env:"T_NAME" default:"dflt" usage:"a string"`
	Debug  bool          `flag:"debug" env:"T_DEBUG" default:"false" usage:"a bool"`
	Count  int           `flag:"count" env:"T_COUNT" default:"3" usage:"an int"`
	Big    int64         `flag:"big" env:"T_BIG" default:"5000000000" usage:"an int64"`
	Ratio  float64       `flag:"ratio" env:"T_RATIO" default:"0.5" usage:"a float"`
	Wait   time.Duration `flag:"wait" env:"T_WAIT" default:"1s" usage:"a duration"`
	Tags   []string      `flag:"tags" env:"T_TAGS" default:"a,b" usage:"a list"`
	Nested struct {
		Deep string `flag:"deep" env:"T_DEEP" default:"d0" usage:"nested"`
	}
	NoEnv    string `flag:"no-env" default:"ne" usage:"flag only"`
	Untagged string // not configurable: left alone
}

// env is a fake environment.
type env map[string]string

func (e env) lookup(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

func loadT(t *testing.T, e env, args ...string) (*testConfig, error) {
	t.Helper()
	cfg := &testConfig{Untagged: "keep"}
	err := load(cfg, "svc", args, e.lookup, io.Discard)
	return cfg, err
}

// TestPrecedence: default < env < flag, for every field type.
func TestPrecedence(t *testing.T) {
	type getter func(*testConfig) any
	cases := []struct {
		name     string
		envKey   string
		flagName string
		get      getter
		dflt     any
		envVal   string
		envWant  any
		flagVal  string
		flagWant any
	}{
		{"string", "T_NAME", "name", func(c *testConfig) any { return c.Name }, "dflt", "from-env", "from-env", "from-flag", "from-flag"},
		{"bool", "T_DEBUG", "debug", func(c *testConfig) any { return c.Debug }, false, "true", true, "false", false},
		{"int", "T_COUNT", "count", func(c *testConfig) any { return c.Count }, 3, "-7", -7, "11", 11},
		{"int64", "T_BIG", "big", func(c *testConfig) any { return c.Big }, int64(5000000000), "9000000000", int64(9000000000), "-1", int64(-1)},
		{"float64", "T_RATIO", "ratio", func(c *testConfig) any { return c.Ratio }, 0.5, "1e-3", 0.001, "2.25", 2.25},
		{"duration", "T_WAIT", "wait", func(c *testConfig) any { return c.Wait }, time.Second, "250ms", 250 * time.Millisecond, "1h2m", time.Hour + 2*time.Minute},
		{"list", "T_TAGS", "tags", func(c *testConfig) any { return c.Tags }, []string{"a", "b"}, " x , ,y ", []string{"x", "y"}, "z", []string{"z"}},
		{"nested", "T_DEEP", "deep", func(c *testConfig) any { return c.Nested.Deep }, "d0", "d1", "d1", "d2", "d2"},
		{"common int", "SY_PARTITIONS", "partitions", func(c *testConfig) any { return c.Partitions }, 16, "4", 4, "8", 8},
		{"common duration", "SY_OWNER_TTL", "owner-ttl", func(c *testConfig) any { return c.OwnerTTL }, 15 * time.Second, "20s", 20 * time.Second, "30s", 30 * time.Second},
		{"common string", "SY_NATS_URL", "nats-url", func(c *testConfig) any { return c.NATSURL }, "nats://127.0.0.1:4222", "nats://a:1", "nats://a:1", "nats://b:2", "nats://b:2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, e env, args []string, want any) {
				t.Helper()
				cfg, err := loadT(t, e, args...)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got := tc.get(cfg); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %#v, want %#v", what, got, want)
				}
				if cfg.Untagged != "keep" {
					t.Errorf("%s: untagged field changed to %q", what, cfg.Untagged)
				}
			}
			check("default", env{}, nil, tc.dflt)
			check("env", env{tc.envKey: tc.envVal}, nil, tc.envWant)
			check("flag", env{}, []string{"-" + tc.flagName + "=" + tc.flagVal}, tc.flagWant)
			check("flag over env", env{tc.envKey: tc.envVal}, []string{"--" + tc.flagName + "=" + tc.flagVal}, tc.flagWant)
		})
	}
}

// Other environment variables do not leak into fields, an empty env value
// means the zero value, and a bool flag works without a value.
func TestLoadDetails(t *testing.T) {
	cfg, err := loadT(t, env{"T_UNRELATED": "x", "NAME": "y", "T_NO_ENV": "z"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "dflt" || cfg.NoEnv != "ne" {
		t.Errorf("unrelated variables changed fields: name %q no-env %q", cfg.Name, cfg.NoEnv)
	}
	cfg, err = loadT(t, env{"T_COUNT": "", "T_TAGS": "", "T_WAIT": "", "T_DEBUG": "", "T_RATIO": "", "T_NAME": ""})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Count != 0 || cfg.Tags != nil || cfg.Wait != 0 || cfg.Debug || cfg.Ratio != 0 || cfg.Name != "" {
		t.Errorf("empty env values: %+v", cfg)
	}
	cfg, err = loadT(t, env{"T_DEBUG": "false"}, "-debug", "-no-env", "set")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Debug || cfg.NoEnv != "set" {
		t.Errorf("-debug without value: debug %v no-env %q", cfg.Debug, cfg.NoEnv)
	}
	// Positional arguments are left after the flags, not an error.
	if _, err := loadT(t, env{}, "-count", "2", "extra"); err != nil {
		t.Errorf("positional argument: %v", err)
	}
}

// A bad value names the variable (env) or the flag it came from.
func TestBadValues(t *testing.T) {
	envCases := []struct{ key, val string }{
		{"T_DEBUG", "yes please"},
		{"T_COUNT", "three"},
		{"T_COUNT", "1.5"},
		{"T_BIG", "99999999999999999999"},
		{"T_RATIO", "half"},
		{"T_WAIT", "10"},
		{"SY_PARTITIONS", "many"},
		{"SY_HEARTBEAT", "5 s"},
	}
	for _, tc := range envCases {
		_, err := loadT(t, env{tc.key: tc.val})
		if err == nil {
			t.Errorf("%s=%q accepted", tc.key, tc.val)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.val) {
			t.Errorf("%s=%q: error %q does not name the variable and value", tc.key, tc.val, err)
		}
	}
	flagCases := [][]string{{"-count=x"}, {"-wait", "forever"}, {"-debug=maybe"}, {"-big=1e3"}, {"-nope"}, {"-count"}}
	for _, args := range flagCases {
		_, err := loadT(t, env{}, args...)
		if err == nil {
			t.Errorf("%v accepted", args)
			continue
		}
		name := strings.TrimLeft(strings.SplitN(args[0], "=", 2)[0], "-")
		if !strings.Contains(err.Error(), name) || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("%v: error %q does not name the flag", args, err)
		}
	}
}

func TestLoadRejectsNonStructAndUnsupportedTypes(t *testing.T) {
	var s string
	for _, cfg := range []any{testConfig{}, &s, nil} {
		if err := load(cfg, "svc", nil, env{}.lookup, io.Discard); err == nil {
			t.Errorf("load(%T) accepted", cfg)
		}
	}
	var bad struct {
		N int32 `flag:"n" env:"T_N" default:"1"`
	}
	err := load(&bad, "svc", nil, env{}.lookup, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unsupported") || !strings.Contains(err.Error(), "T_N") {
		t.Errorf("int32 field: %v, want unsupported-type error naming T_N", err)
	}
}

// -h prints every flag with its environment variable and default.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	err := load(&testConfig{}, "svc", []string{"-h"}, env{}.lookup, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-name", "[T_NAME]", "-deep", "[T_DEEP]", "-partitions", "[SY_PARTITIONS]", "-no-env", "a duration", "(default dflt)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help output lacks %q:\n%s", want, out.String())
		}
	}
	// The shown default is the effective one: env included.
	out.Reset()
	_ = load(&testConfig{}, "svc", []string{"-h"}, env{"T_NAME": "from-env"}.lookup, &out)
	if !strings.Contains(out.String(), "(default from-env)") {
		t.Errorf("help does not show the env value as default:\n%s", out.String())
	}
}

func TestLoadPublic(t *testing.T) {
	t.Setenv("SY_PARTITIONS", "7")
	var c Common
	if err := Load(&c, "svc", []string{"-log-level=debug"}); err != nil {
		t.Fatal(err)
	}
	if c.Partitions != 7 || c.LogLevel != "debug" || c.Heartbeat != 5*time.Second {
		t.Errorf("Load: %+v", c)
	}
}

// Describe documents every setting: one table row per flag with its env
// variable, default and meaning (docs/configuration.md is generated from it).
func TestDescribe(t *testing.T) {
	var out bytes.Buffer
	Describe(&out, &testConfig{})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "| flag | env | default | meaning |" || lines[1] != "|---|---|---|---|" {
		t.Errorf("header = %q", lines[:2])
	}
	rows := map[string]string{}
	for _, l := range lines[2:] {
		cells := strings.Split(l, " | ")
		if len(cells) != 4 {
			t.Errorf("row %q has %d cells", l, len(cells))
			continue
		}
		rows[strings.TrimPrefix(cells[0], "| ")] = l
	}
	want := map[string][3]string{ // flag → env, default, usage fragment
		"`-name`": {"`T_NAME`", "`dflt`", "a string"}, "`-debug`": {"`T_DEBUG`", "`false`", "a bool"},
		"`-count`": {"`T_COUNT`", "`3`", "an int"}, "`-big`": {"`T_BIG`", "`5000000000`", "an int64"},
		"`-ratio`": {"`T_RATIO`", "`0.5`", "a float"}, "`-wait`": {"`T_WAIT`", "`1s`", "a duration"},
		"`-tags`": {"`T_TAGS`", "`a,b`", "a list"}, "`-deep`": {"`T_DEEP`", "`d0`", "nested"},
		"`-no-env`": {"``", "`ne`", "flag only"},
	}
	ct := reflect.TypeOf(Common{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		def := "(empty)"
		if d := f.Tag.Get("default"); d != "" {
			def = "`" + d + "`"
		}
		want["`-"+f.Tag.Get("flag")+"`"] = [3]string{"`" + f.Tag.Get("env") + "`", def, f.Tag.Get("usage")}
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d:\n%s", len(rows), len(want), out.String())
	}
	for fl, w := range want {
		row, ok := rows[fl]
		if !ok {
			t.Errorf("no row for %s", fl)
			continue
		}
		for _, part := range w {
			if !strings.Contains(row, part) {
				t.Errorf("row %q lacks %q", row, part)
			}
		}
	}
}

// Defaults of Common are valid, and each rule of Validate catches its case.
func TestCommonValidate(t *testing.T) {
	var base Common
	if err := load(&base, "svc", nil, env{}.lookup, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*Common)
		errs   []string // fragments; none means valid
	}{
		{"defaults", func(*Common) {}, nil},
		{"partitions 1", func(c *Common) { c.Partitions = 1 }, nil},
		{"partitions 1024", func(c *Common) { c.Partitions = 1024 }, nil},
		{"partitions 0", func(c *Common) { c.Partitions = 0 }, []string{"partitions"}},
		{"partitions 1025", func(c *Common) { c.Partitions = 1025 }, []string{"partitions"}},
		{"ttl equal heartbeat", func(c *Common) { c.OwnerTTL = c.Heartbeat }, []string{"owner-ttl"}},
		{"ttl below heartbeat", func(c *Common) { c.OwnerTTL = time.Second }, []string{"owner-ttl"}},
		{"heartbeat zero", func(c *Common) { c.Heartbeat = 0 }, []string{"heartbeat"}},
		{"request timeout zero", func(c *Common) { c.RequestTimeout = 0 }, []string{"request-timeout"}},
		{"pod with dot", func(c *Common) { c.Pod = "gw.1" }, []string{"pod name"}},
		{"pod with space", func(c *Common) { c.Pod = "gw 1" }, []string{"pod name"}},
		{"pod with wildcard", func(c *Common) { c.Pod = "gw*" }, []string{"pod name"}},
		{"pod with gt", func(c *Common) { c.Pod = "gw>" }, []string{"pod name"}},
		{"pod ok", func(c *Common) { c.Pod = "gateway-7f9c-x2" }, nil},
		{"all wrong", func(c *Common) { c.Partitions, c.Heartbeat, c.RequestTimeout, c.Pod = -1, 0, -time.Second, "a.b" },
			[]string{"partitions", "heartbeat", "request-timeout", "pod name"}},
	}
	for _, tc := range cases {
		c := base
		tc.mutate(&c)
		err := c.Validate()
		if len(tc.errs) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, frag := range tc.errs {
			if !strings.Contains(err.Error(), frag) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, frag)
			}
		}
	}
}

func TestPodName(t *testing.T) {
	c := Common{Pod: "gw-1"}
	if c.PodName() != "gw-1" {
		t.Errorf("PodName = %q", c.PodName())
	}
	c.Pod = ""
	if n := c.PodName(); n == "" || n == "-" || !strings.Contains(n, "-") {
		t.Errorf("default PodName = %q, want hostname-pid", n)
	}
}

func TestDefaultsIgnoreEnvironment(t *testing.T) {
	t.Setenv("SY_PARTITIONS", "3")
	var c Common
	Defaults(&c)
	if c.Partitions != 16 || c.Heartbeat != 5*time.Second || c.NATSURL != "nats://127.0.0.1:4222" {
		t.Errorf("Defaults = partitions %d heartbeat %s nats %q; want the tags' defaults", c.Partitions, c.Heartbeat, c.NATSURL)
	}
}
