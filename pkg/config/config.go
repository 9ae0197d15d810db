// Package config loads a service's configuration struct from command-line
// flags and SY_* environment variables.
//
// Every field of a config struct carries three tags:
//
//	flag:"nats-url" env:"SY_NATS_URL" default:"nats://127.0.0.1:4222" usage:"..."
//
// Precedence is flag > environment > default. Supported field types are
// string, bool, int, int64, float64, time.Duration and []string (comma list).
// Nested structs are walked, so services can embed the shared Common block.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Common is the configuration every service shares.
type Common struct {
	Pod          string `flag:"pod" env:"SY_POD" default:"" usage:"name of this pod/process (default: hostname-pid)"`
	NATSURL      string `flag:"nats-url" env:"SY_NATS_URL" default:"nats://127.0.0.1:4222" usage:"NATS server URL(s), comma separated"`
	RedisURL     string `flag:"redis-url" env:"SY_REDIS_URL" default:"redis://127.0.0.1:6379/0" usage:"Redis URL for connection ownership"`
	OTLPEndpoint string `flag:"otlp-endpoint" env:"SY_OTLP_ENDPOINT" default:"" usage:"OTLP/HTTP trace endpoint, e.g. http://jaeger:4318 (empty: tracing export off)"`
	LogLevel     string `flag:"log-level" env:"SY_LOG_LEVEL" default:"info" usage:"debug, info, warn or error"`
	LogFormat    string `flag:"log-format" env:"SY_LOG_FORMAT" default:"text" usage:"text or json"`
	// Partitions is the number of ordered partitions of the inbound and
	// runtime-command streams. Every service of a deployment must agree.
	Partitions int `flag:"partitions" env:"SY_PARTITIONS" default:"16" usage:"ordered partitions of the session and runtime command streams (all services must agree)"`
	// Replicas of JetStream streams (1 for a single NATS server, 3 for a cluster).
	StreamReplicas int `flag:"stream-replicas" env:"SY_STREAM_REPLICAS" default:"1" usage:"JetStream replicas for Switchyard's streams and buckets"`
	// Heartbeat is how often a pod refreshes its ownership records; OwnerTTL
	// is how long they live without a refresh.
	Heartbeat time.Duration `flag:"heartbeat" env:"SY_HEARTBEAT" default:"5s" usage:"ownership heartbeat period"`
	OwnerTTL  time.Duration `flag:"owner-ttl" env:"SY_OWNER_TTL" default:"15s" usage:"ownership record TTL (must exceed heartbeat)"`
	// RequestTimeout bounds every request that waits on a runtime.
	RequestTimeout time.Duration `flag:"request-timeout" env:"SY_REQUEST_TIMEOUT" default:"30s" usage:"timeout for requests answered by a runtime"`
}

// PodName returns the configured pod name or a hostname-pid default.
func (c *Common) PodName() string {
	if c.Pod != "" {
		return c.Pod
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "pod"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Validate checks the shared settings.
func (c *Common) Validate() error {
	var errs []error
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions must be 1..1024, got %d", c.Partitions))
	}
	if c.Heartbeat <= 0 || c.OwnerTTL <= c.Heartbeat {
		errs = append(errs, fmt.Errorf("owner-ttl (%s) must exceed heartbeat (%s)", c.OwnerTTL, c.Heartbeat))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("request-timeout must be positive"))
	}
	if strings.ContainsAny(c.Pod, ". *>") {
		errs = append(errs, fmt.Errorf("pod name %q must not contain '.', ' ', '*' or '>' (it is a NATS subject token)", c.Pod))
	}
	return errors.Join(errs...)
}

// Load fills cfg (a pointer to a struct) from defaults, the environment and
// args, in that order of increasing precedence.
func Load(cfg any, name string, args []string) error {
	return load(cfg, name, args, os.LookupEnv, os.Stderr)
}

func load(cfg any, name string, args []string, lookup func(string) (string, bool), out io.Writer) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load wants a pointer to a struct, got %T", cfg)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	if err := bind(fs, v.Elem(), lookup); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func bind(fs *flag.FlagSet, v reflect.Value, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := bind(fs, fv, lookup); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		raw := f.Tag.Get("default")
		env := f.Tag.Get("env")
		if val, ok := lookup(env); ok && env != "" {
			raw = val
		}
		fl := &field{v: fv}
		if err := fl.Set(raw); err != nil {
			return fmt.Errorf("config: %s (%s=%q): %w", name, env, raw, err)
		}
		usage := f.Tag.Get("usage")
		if env != "" {
			usage = fmt.Sprintf("%s [%s]", usage, env)
		}
		fs.Var(fl, name, usage)
	}
	return nil
}

// field adapts a reflect.Value to flag.Value.
type field struct{ v reflect.Value }

func (f *field) String() string {
	if !f.v.IsValid() {
		return ""
	}
	if s, ok := f.v.Interface().([]string); ok {
		return strings.Join(s, ",")
	}
	return fmt.Sprint(f.v.Interface())
}

func (f *field) IsBoolFlag() bool { return f.v.IsValid() && f.v.Kind() == reflect.Bool }

func (f *field) Set(s string) error {
	switch f.v.Interface().(type) {
	case string:
		f.v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(orDefault(s, "false"))
		if err != nil {
			return err
		}
		f.v.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(orDefault(s, "0"), 10, 64)
		if err != nil {
			return err
		}
		f.v.SetInt(n)
	case float64:
		n, err := strconv.ParseFloat(orDefault(s, "0"), 64)
		if err != nil {
			return err
		}
		f.v.SetFloat(n)
	case time.Duration:
		d, err := time.ParseDuration(orDefault(s, "0s"))
		if err != nil {
			return err
		}
		f.v.SetInt(int64(d))
	case []string:
		f.v.Set(reflect.ValueOf(splitList(s)))
	default:
		return fmt.Errorf("unsupported config type %s", f.v.Type())
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Describe writes a Markdown table of cfg's settings (flag, env, default,
// meaning); docs/configuration.md is generated from it.
func Describe(w io.Writer, cfg any) {
	fmt.Fprintln(w, "| flag | env | default | meaning |")
	fmt.Fprintln(w, "|---|---|---|---|")
	describe(w, reflect.TypeOf(cfg).Elem())
}

func describe(w io.Writer, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			describe(w, f.Type)
			continue
		}
		if name := f.Tag.Get("flag"); name != "" {
			def := "(empty)"
			if d := f.Tag.Get("default"); d != "" {
				def = "`" + d + "`"
			}
			fmt.Fprintf(w, "| `-%s` | `%s` | %s | %s |\n", name, f.Tag.Get("env"), def, f.Tag.Get("usage"))
		}
	}
}
