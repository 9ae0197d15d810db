// Command deviceagent is a reference device agent for Switchyard: the
// device side of document 001 (a Steam-deck-like machine that receives
// games) connecting *out* to the hub over /ws/runtime, so it can sit
// behind NAT. It declares one endpoint of profile "device", prints pairing
// codes on its terminal, answers the document's operations relayed to it
// as device.request (get_info, get_config, get_steam_users, shortcuts kept
// in <dir>/shortcuts.json, restart_steam; anything else: 501), and on
// device.upload_ready fetches each uploaded file over HTTP into
// <dir>/<gameName>/<path>, verifying its sha256.
//
//	deviceagent -hub ws://127.0.0.1:8080/ws/runtime -token dev-runtime-token -id deck -dir ~/Games
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
	"path/filepath"
	"strings"
	"syscall"

	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

type config struct {
	hubURL     string
	token      string
	id         string
	dir        string
	name       string
	steamUsers []steamUser
	accept     bool
	verbose    bool
}

type steamUser struct{ id, name string }

func main() { os.Exit(run()) }

func run() int {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deviceagent:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newAgent(cfg, log, os.Stdout)
	if err != nil {
		log.Error("deviceagent cannot start", "err", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("deviceagent stopped", "err", err)
		return 1
	}
	return 0
}

func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	var users string
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("deviceagent", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.hubURL, "hub", envOr(getenv, "SY_HUB_URL", "ws://127.0.0.1:8080/ws/runtime"), "hub runtime WebSocket URL (env SY_HUB_URL; an http(s) base URL also works)")
	fs.StringVar(&cfg.token, "token", envOr(getenv, "SY_RUNTIME_TOKEN", "dev-runtime-token"), "runtime token (env SY_RUNTIME_TOKEN)")
	fs.StringVar(&cfg.id, "id", hubconn.HostID("device-", host), "device id: the runtime id and the endpoint id (controllers use /ws/device/{id})")
	fs.StringVar(&cfg.dir, "dir", "", "install directory: get_config's installPath, games go to <dir>/<gameName>, shortcuts to <dir>/shortcuts.json (default: a new temp dir)")
	fs.StringVar(&cfg.name, "name", "Switchyard device ("+host+")", "device name shown to controllers")
	fs.StringVar(&users, "steam-users", "", "Steam users for get_steam_users, id:name,id:name (may be empty)")
	fs.BoolVar(&cfg.accept, "accept", true, "acceptConnections: false makes the hub refuse controllers with 406")
	fs.BoolVar(&cfg.verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !hubconn.ValidID(cfg.id) {
		return cfg, errors.New("-id may hold only letters, digits, '-' and '_' (at most 128)")
	}
	var err error
	if cfg.steamUsers, err = parseUsers(users); err != nil {
		return cfg, err
	}
	if cfg.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "deviceagent-"); err != nil {
			return cfg, err
		}
	}
	if cfg.dir, err = filepath.Abs(cfg.dir); err != nil {
		return cfg, err
	}
	return cfg, os.MkdirAll(cfg.dir, 0o755)
}

func parseUsers(s string) ([]steamUser, error) {
	var out []steamUser
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		id, name, _ := strings.Cut(item, ":")
		if id == "" || strings.Trim(id, "0123456789") != "" {
			return nil, fmt.Errorf("-steam-users: %q: the id must be digits (id:name)", item)
		}
		out = append(out, steamUser{id: id, name: name})
	}
	return out, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
