// Command shellruntime is a tiny agent runtime for Switchyard: it registers
// one "shell" endpoint with the hub over /ws/runtime and answers every user
// message by running it with `<shell> -c <message>` in a per-session
// working directory, streaming stdout and stderr back as agent.output.
//
//	shellruntime -hub ws://127.0.0.1:8080/ws/runtime -token dev-runtime-token
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

type config struct {
	hubURL     string
	token      string
	runtimeID  string
	endpointID string
	shell      string
	timeout    time.Duration
	verbose    bool
}

func main() { os.Exit(run()) }

func run() int {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shellruntime:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRuntime(cfg, log).Run(ctx); err != nil {
		log.Error("shellruntime stopped", "err", err)
		return 1
	}
	return 0
}

func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("shellruntime", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.hubURL, "hub", envOr(getenv, "SY_HUB_URL", "ws://127.0.0.1:8080/ws/runtime"), "hub runtime WebSocket URL (env SY_HUB_URL; an http(s) base URL also works)")
	fs.StringVar(&cfg.token, "token", envOr(getenv, "SY_RUNTIME_TOKEN", "dev-runtime-token"), "runtime token (env SY_RUNTIME_TOKEN)")
	fs.StringVar(&cfg.runtimeID, "runtime-id", defaultRuntimeID(), "runtime id")
	fs.StringVar(&cfg.endpointID, "endpoint", "shell", "endpoint id to register")
	fs.StringVar(&cfg.shell, "shell", "/bin/sh", "shell that runs each message as `<shell> -c <message>`")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "longest a command may run")
	fs.BoolVar(&cfg.verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.timeout <= 0 {
		return cfg, fmt.Errorf("-timeout must be positive, got %s", cfg.timeout)
	}
	if !hubconn.ValidID(cfg.runtimeID) || !hubconn.ValidID(cfg.endpointID) {
		return cfg, errors.New("-runtime-id and -endpoint may hold only letters, digits, '-' and '_' (at most 128)")
	}
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// defaultRuntimeID is shell-<hostname>, reduced to the characters the hub
// accepts in ids.
func defaultRuntimeID() string {
	host, _ := os.Hostname()
	return hubconn.HostID("shell-", host)
}
