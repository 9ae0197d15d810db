// Command termclient is a terminal chat client for Switchyard: it opens a
// session on an endpoint (or attaches to one), prints its transcript and
// live output, and sends each line of stdin as a user message.
//
//	termclient -hub http://127.0.0.1:8080 -token dev-client-token -endpoint shell
//	echo 'ls' | termclient            # runs one turn, prints its output, exits
//
// Lines starting with / are commands: /stop, /close, /quit. Agent stdout
// goes to stdout; everything else (stderr output, status, prompts) to stderr.
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

	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

type config struct {
	hub      string // http(s) base URL
	token    string
	endpoint string
	session  string
	afterSeq int64
	list     bool
	verbose  bool
	backoff  hubconn.Backoff // zero: hubconn's default (tests shorten it)
}

func main() { os.Exit(runMain()) }

func runMain() int {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "termclient:", err)
		return 2
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := terminal{in: os.Stdin, out: os.Stdout, err: os.Stderr, color: colorful(os.Stderr)}
	err = run(ctx, cfg, t, log)
	switch {
	case ctx.Err() != nil:
		return 130
	case err != nil:
		fmt.Fprintln(os.Stderr, "termclient:", err)
		return 1
	}
	return 0
}

func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("termclient", flag.ContinueOnError)
	fs.SetOutput(output)
	hub := getenv("SY_HUB_URL")
	if hub == "" {
		hub = "http://127.0.0.1:8080"
	}
	token := getenv("SY_CLIENT_TOKEN")
	if token == "" {
		token = "dev-client-token"
	}
	fs.StringVar(&cfg.hub, "hub", hub, "hub base URL (env SY_HUB_URL; ws(s):// and /ws/... paths are accepted too)")
	fs.StringVar(&cfg.token, "token", token, "client token (env SY_CLIENT_TOKEN)")
	fs.StringVar(&cfg.endpoint, "endpoint", "shell", "endpoint to open a session on")
	fs.StringVar(&cfg.session, "session", "", "attach to this session instead of creating one")
	fs.Int64Var(&cfg.afterSeq, "after-seq", 0, "replay the transcript after this seq")
	fs.BoolVar(&cfg.list, "list", false, "list the endpoints and exit")
	fs.BoolVar(&cfg.verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.afterSeq < 0 {
		return cfg, errors.New("-after-seq must not be negative")
	}
	base, err := hubconn.BaseURL(cfg.hub)
	if err != nil {
		return cfg, err
	}
	cfg.hub = base.String()
	return cfg, nil
}

// terminal is where the client reads and writes.
type terminal struct {
	in       io.Reader
	out, err io.Writer
	color    bool
}

// run lists endpoints, or opens/attaches a session and chats until the
// session closes, /quit, or stdin ends and the last turn completed.
func run(ctx context.Context, cfg config, t terminal, log *slog.Logger) error {
	api := newAPI(cfg.hub, cfg.token)
	if cfg.list {
		eps, err := api.endpoints(ctx)
		if err != nil {
			return err
		}
		return printEndpoints(t.out, eps)
	}
	ui := &ui{out: t.out, err: t.err, color: t.color}
	id := cfg.session
	if id == "" {
		s, err := api.createSession(ctx, cfg.endpoint)
		if err != nil {
			return err
		}
		ui.status("session %s on endpoint %s (%s)", s.ID, s.EndpointID, s.Status)
		id = s.ID
	} else {
		ui.status("attaching to session %s after seq %d", id, cfg.afterSeq)
	}
	c := newChat(id, cfg.afterSeq, ui, log)
	return c.run(ctx, cfg, t.in)
}

// colorful reports whether f is a terminal that wants ANSI dimming.
func colorful(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
