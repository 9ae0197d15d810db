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
	"bytes"
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

// Load fills cfg (a pointer to a struct) from defaults, the environment and
// args, in that order of increasing precedence. Every bad value is
// reported (joined), each naming its variable or flag, the value and what
// was expected. -h returns flag.ErrHelp after printing the settings.
func Load(cfg any, name string, args []string) error {
	return load(cfg, name, args, os.LookupEnv, os.Stderr)
}

func load(cfg any, name string, args []string, lookup func(string) (string, bool), out io.Writer) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load wants a pointer to a struct, got %T", cfg)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if err := bind(fs, v.Elem(), lookup); err != nil {
		return err
	}
	// The flag package prints the error and the whole usage on a bad
	// flag; keep the usage for -h only, the error is returned.
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = out.Write(usage.Bytes())
			return err
		}
		return fmt.Errorf("config: %w (-h lists every setting)", err)
	}
	return nil
}

// Defaults sets every tagged field of cfg (a pointer to a config struct) to
// its default: tag, ignoring the environment and flags. Tests and embedding
// code (the dev stack) use it to get a service's documented defaults. A
// default that does not parse is a programming error and panics.
func Defaults(cfg any) {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: Defaults wants a pointer to a struct, got %T", cfg))
	}
	none := func(string) (string, bool) { return "", false }
	if err := bind(flag.NewFlagSet("defaults", flag.ContinueOnError), v.Elem(), none); err != nil {
		panic(err)
	}
}

func bind(fs *flag.FlagSet, v reflect.Value, lookup func(string) (string, bool)) error {
	var errs []error
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			errs = append(errs, bind(fs, fv, lookup))
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		raw := f.Tag.Get("default")
		env := f.Tag.Get("env")
		source := fmt.Sprintf("default of -%s", name)
		if env != "" {
			source += " [" + env + "]"
		}
		if val, ok := lookup(env); ok && env != "" {
			raw = val
			source = env
		}
		fl := &field{v: fv}
		if err := fl.Set(raw); err != nil {
			errs = append(errs, fmt.Errorf("config: %s=%q: %w (flag -%s)", source, raw, err, name))
		}
		usage := f.Tag.Get("usage")
		if env != "" {
			usage = fmt.Sprintf("%s [%s]", usage, env)
		}
		fs.Var(fl, name, usage)
	}
	return errors.Join(errs...)
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

// Set parses s into the field; its errors say what was expected.
func (f *field) Set(s string) error {
	switch f.v.Interface().(type) {
	case string:
		f.v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(orDefault(s, "false"))
		if err != nil {
			return errors.New("want true or false")
		}
		f.v.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(orDefault(s, "0"), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return errors.New("want a whole number (this one is out of range)")
		}
		if err != nil {
			return errors.New("want a whole number, e.g. 16")
		}
		f.v.SetInt(n)
	case float64:
		n, err := strconv.ParseFloat(orDefault(s, "0"), 64)
		if err != nil {
			return errors.New("want a number, e.g. 200 or 0.5")
		}
		f.v.SetFloat(n)
	case time.Duration:
		d, err := time.ParseDuration(orDefault(s, "0s"))
		if err != nil {
			return errors.New("want a duration with a unit, e.g. 5s, 250ms, 1m30s, 24h")
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
