// Command devicectl is a small controller for the device dialect
// (document 001): it speaks the document's controller side exactly, so it
// works against a device agent directly or against Switchyard, which
// plays the device's side (ws://host:port/ws on the compatibility
// listener, or /ws/device/{id} on the main one).
//
//	devicectl -hub ws://127.0.0.1:9999/ws info
//	devicectl -hub ws://127.0.0.1:8080/ws/device/deck upload ./Celeste -game Celeste -exe Celeste.exe -shortcut
//	devicectl status upload-abc123
//
// The first connection pairs: the device shows a 6-digit code, which
// devicectl takes from -code or asks for on stdin; the token it gets is
// stored in -token-file and sent in hub_connected from then on.
package main

import (
	"context"
	"encoding/json"
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
	"time"
)

const version = "0.1.0"

type config struct {
	hubURL    string
	hubID     string
	name      string
	code      string
	tokens    *tokenStore
	checksum  bool
	game, exe string
	shortcut  bool
	resume    string
	verbose   bool
	command   string
	args      []string
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "devicectl:", err)
		return 2
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, cfg, log, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "devicectl:", err)
		return 1
	}
	return 0
}

const usage = `usage: devicectl [flags] COMMAND [ARGS]

commands:
  info                    get_info
  config                  get_config
  users                   get_steam_users
  shortcuts USERID        list_shortcuts
  restart                 restart_steam
  upload DIR              init_upload, binary chunks, complete_upload (-game, -exe, -shortcut, -resume, -checksum)
  status UPLOADID         get_upload_status (Switchyard extension)
  cancel UPLOADID         cancel_upload
  pair                    connect (pairing if needed) and print agent_status

flags:
`

func parseConfig(args []string, output io.Writer) (config, error) {
	var cfg config
	var tokenFile string
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("devicectl", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() { fmt.Fprint(output, usage); fs.PrintDefaults() }
	fs.StringVar(&cfg.hubURL, "hub", envOr("SY_DEVICE_URL", "ws://127.0.0.1:9999/ws"), "device WebSocket URL: ws://host:port/ws or ws://host:port/ws/device/{id} (env SY_DEVICE_URL)")
	fs.StringVar(&cfg.hubID, "hub-id", "", "hubId sent in hub_connected (default: stored in the token file, else devicectl-<host>)")
	fs.StringVar(&cfg.name, "name", "devicectl", "controller name sent in hub_connected")
	fs.StringVar(&cfg.code, "code", "", "pairing code (default: asked on stdin when the device requires pairing)")
	fs.StringVar(&tokenFile, "token-file", defaultTokenFile(), "where pairing tokens are kept")
	fs.BoolVar(&cfg.checksum, "checksum", true, "send each chunk's sha256 in its header (real controllers omit it: -checksum=false)")
	fs.StringVar(&cfg.game, "game", "", "upload: gameName (default: the directory's name)")
	fs.StringVar(&cfg.exe, "exe", "", "upload: executable, relative to the game directory")
	fs.BoolVar(&cfg.shortcut, "shortcut", false, "upload: createShortcut with name -game and exe -exe")
	fs.StringVar(&cfg.resume, "resume", "", "upload: resume this uploadId (asks get_upload_status, sends only what is missing)")
	fs.BoolVar(&cfg.verbose, "v", false, "debug logging")
	// Flags may follow the command (devicectl upload DIR -game X).
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) == 0 {
		fs.Usage()
		return cfg, errors.New("no command")
	}
	cfg.command, cfg.args = positional[0], positional[1:]
	if err := checkArgs(&cfg); err != nil {
		return cfg, err
	}
	var err error
	if cfg.tokens, err = openTokens(tokenFile); err != nil {
		return cfg, err
	}
	if cfg.hubID == "" {
		if cfg.hubID, err = cfg.tokens.hubID("devicectl-" + strings.ReplaceAll(host, ".", "-")); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func checkArgs(cfg *config) error {
	want := map[string]int{"info": 0, "config": 0, "users": 0, "restart": 0, "pair": 0, "shortcuts": 1, "upload": 1, "status": 1, "cancel": 1}
	n, ok := want[cfg.command]
	if !ok {
		return fmt.Errorf("unknown command %q", cfg.command)
	}
	if len(cfg.args) != n {
		return fmt.Errorf("%s takes %d argument(s), got %q", cfg.command, n, cfg.args)
	}
	if cfg.command == "upload" && cfg.game == "" {
		cfg.game = filepath.Base(filepath.Clean(cfg.args[0]))
	}
	return nil
}

func execute(ctx context.Context, cfg config, log *slog.Logger, stdin io.Reader, stdout, stderr io.Writer) error {
	c, st, err := dial(ctx, cfg, log, stdin, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stderr, "connected to %s (%s, %s, acceptConnections %v)\n", st.Name, st.Platform, st.Version, st.AcceptConnections)
	var out json.RawMessage
	switch cfg.command {
	case "pair":
		out, err = json.Marshal(st)
	case "info":
		out, err = c.simple(ctx, "get_info", nil)
	case "config":
		out, err = c.simple(ctx, "get_config", nil)
	case "users":
		out, err = c.simple(ctx, "get_steam_users", nil)
	case "restart":
		out, err = c.simple(ctx, "restart_steam", nil)
	case "shortcuts":
		out, err = c.simple(ctx, "list_shortcuts", map[string]json.RawMessage{"userId": userID(cfg.args[0])})
	case "status":
		out, err = c.simple(ctx, "get_upload_status", uploadRef{UploadID: cfg.args[0]})
	case "cancel":
		out, err = c.simple(ctx, "cancel_upload", uploadRef{UploadID: cfg.args[0]})
	case "upload":
		out, err = c.upload(ctx, uploadOptions{dir: cfg.args[0], game: cfg.game, exe: cfg.exe, shortcut: cfg.shortcut, resume: cfg.resume, checksum: cfg.checksum}, stderr)
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, out)
}

// userID sends digits as a number, as the document's list_shortcuts does.
func userID(s string) json.RawMessage {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func (c *client) simple(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	m, err := c.call(ctx, typ, payload, requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	return m.Payload, nil
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		_, err = fmt.Fprintln(w, string(raw))
		return err
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintln(w, string(b))
	return err
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultTokenFile() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "devicectl", "tokens.json")
	}
	return ".devicectl-tokens.json"
}

// tokenStore keeps the controller's hubId and a token per device URL.
type tokenStore struct {
	path string
	data struct {
		HubID  string            `json:"hubId"`
		Tokens map[string]string `json:"tokens"`
	}
}

func openTokens(path string) (*tokenStore, error) {
	s := &tokenStore{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.data); err != nil {
			return nil, fmt.Errorf("token file %s: %w", path, err)
		}
	}
	if s.data.Tokens == nil {
		s.data.Tokens = map[string]string{}
	}
	return s, nil
}

func (s *tokenStore) hubID(def string) (string, error) {
	if s.data.HubID == "" {
		s.data.HubID = def + "-" + fmt.Sprint(time.Now().UnixNano()%1_000_000)
		return s.data.HubID, s.save()
	}
	return s.data.HubID, nil
}

func (s *tokenStore) get(url string) string { return s.data.Tokens[url] }

func (s *tokenStore) put(url, token string) error {
	s.data.Tokens[url] = token
	return s.save()
}

func (s *tokenStore) save() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s.data, "", "  ")
	return os.WriteFile(s.path, b, 0o600)
}
