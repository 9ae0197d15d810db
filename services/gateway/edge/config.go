package edge

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/auth/jwtauth"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// Config is the gateway's configuration: the core's settings and those of
// the rooms registered on it (dialects, REST, files), so one table gives
// every flag, SY_* variable and default (docs/configuration.md).
type Config struct {
	config.Common
	// Client JWTs (SY_JWT_*), beside the static SY_CLIENT_TOKENS.
	jwtauth.Config
	Listen           string        `flag:"listen" env:"SY_LISTEN" default:"127.0.0.1:8080" usage:"address of WebSocket and REST (and of health, metrics when -internal-listen is empty)"`
	InternalListen   string        `flag:"internal-listen" env:"SY_INTERNAL_LISTEN" default:"" usage:"address of /metrics, /healthz, /readyz and /debug/pprof/, off the public listener (empty: health and metrics on -listen, no pprof)"`
	AllowedOrigins   []string      `flag:"allowed-origins" env:"SY_ALLOWED_ORIGINS" default:"" usage:"comma list of browser Origins allowed to open sockets (patterns: https://app.example.com, https://*.example.com, http://localhost:*, *); the gateway's own origin is always allowed; requests without Origin are not browsers and are allowed"`
	TraceOutputRatio float64       `flag:"trace-output-ratio" env:"SY_TRACE_OUTPUT_RATIO" default:"1" usage:"share (0..1) of agent.output traces kept, on top of OTEL_TRACES_SAMPLER: output chunks may be sampled below control frames"`
	PingPeriod       time.Duration `flag:"ping-period" env:"SY_PING_PERIOD" default:"5s" usage:"WebSocket ping period"`
	PongWait         time.Duration `flag:"pong-wait" env:"SY_PONG_WAIT" default:"15s" usage:"a socket silent for this long is closed"`
	WriteWait        time.Duration `flag:"write-wait" env:"SY_WRITE_WAIT" default:"10s" usage:"time limit of one socket write"`
	MaxMessageBytes  int64         `flag:"max-message-bytes" env:"SY_MAX_MESSAGE_BYTES" default:"10485760" usage:"largest frame accepted (close 1009 above)"`
	SendQueueFrames  int           `flag:"send-queue-frames" env:"SY_SEND_QUEUE_FRAMES" default:"1024" usage:"frames a socket may have queued before it is dropped (close 4008)"`
	SendQueueBytes   int           `flag:"send-queue-bytes" env:"SY_SEND_QUEUE_BYTES" default:"8388608" usage:"bytes a socket may have queued before it is dropped (close 4008)"`
	DrainTimeout     time.Duration `flag:"drain-timeout" env:"SY_DRAIN_TIMEOUT" default:"20s" usage:"on SIGTERM, time to close sockets and withdraw before exiting"`
	DrainJitter      time.Duration `flag:"drain-jitter" env:"SY_DRAIN_JITTER" default:"5s" usage:"closes (1001) are spread over this window so clients do not reconnect at once"`
	ClientTokens     []string      `flag:"client-tokens" env:"SY_CLIENT_TOKENS" default:"" usage:"comma list of token=user_id for /ws/client and REST"`
	HistoryPage      int           `flag:"history-page" env:"SY_HISTORY_PAGE" default:"500" usage:"messages per history.response frame"`
	RateLimit        float64       `flag:"rate-limit" env:"SY_RATE_LIMIT" default:"200" usage:"frames per second one client socket may send (sustained); above it frames get error rate_limited; 0 disables"`
	RateBurst        int           `flag:"rate-burst" env:"SY_RATE_BURST" default:"400" usage:"frames one client socket may send in a burst above the rate"`
	RuntimeRateLimit float64       `flag:"runtime-rate-limit" env:"SY_RUNTIME_RATE_LIMIT" default:"20000" usage:"frames per second one runtime socket may send (streamed output); 0 disables"`
	RuntimeRateBurst int           `flag:"runtime-rate-burst" env:"SY_RUNTIME_RATE_BURST" default:"40000" usage:"frames one runtime socket may send in a burst above the rate"`
	// Admin REST and runtime tokens (rest, dialect/amurg).
	AdminTokens        []string      `flag:"admin-tokens" env:"SY_ADMIN_TOKENS" default:"" usage:"comma list of token=admin_name for admin REST"`
	TokenRefreshBefore time.Duration `flag:"token-refresh-before" env:"SY_TOKEN_REFRESH_BEFORE" default:"1h" usage:"refresh a runtime's hub-issued token this long before it expires (at 80% of its remaining life when that is shorter)"`
	// Push channels /notification and /statechange (dialect/push).
	PushRequireToken   bool     `flag:"push-require-token" env:"SY_PUSH_REQUIRE_TOKEN" default:"false" usage:"push channels refuse readers without a client or admin token (close 1008), except loopback readers when push-loopback-open is set; false: token-less readers see hub-wide events only"`
	PushLoopbackOpen   bool     `flag:"push-loopback-open" env:"SY_PUSH_LOOPBACK_OPEN" default:"false" usage:"token-less push readers from a loopback address (and no proxy headers) are admins, as in the protocol document; the dev stack sets it, never set it behind a proxy in the same host or pod"`
	PushAllowedOrigins []string `flag:"push-allowed-origins" env:"SY_PUSH_ALLOWED_ORIGINS" default:"" usage:"comma list of browser origins (scheme://host[:port], or *) allowed to open push channels; an upgrade with another Origin gets 403, one without Origin (not a browser) is admitted"`
	MaxFileBytes       int64    `flag:"max-file-bytes" env:"SY_MAX_FILE_BYTES" default:"7340032" usage:"largest file accepted by POST /files and in file.available (file_too_large above); base64 of 7 MiB fits a 10 MiB frame"`
	// Chat stream room (dialect/chat).
	Chat ChatConfig
	// Device controllers (dialect/device, document 001).
	DeviceCompatListen   string        `flag:"device-compat-listen" env:"SY_DEVICE_COMPAT_LISTEN" default:"" usage:"address of the device compatibility listener serving ws://host:port/ws (document 001's URL; empty: off)"`
	DeviceCompatDevice   string        `flag:"device-compat-device" env:"SY_DEVICE_COMPAT_DEVICE" default:"" usage:"device the compatibility listener serves (empty: the only device online)"`
	DeviceRequestTimeout time.Duration `flag:"device-request-timeout" env:"SY_DEVICE_REQUEST_TIMEOUT" default:"30s" usage:"a device request unanswered this long is answered with error 500 (document 001's request timeout)"`
	DeviceInstallTimeout time.Duration `flag:"device-install-timeout" env:"SY_DEVICE_INSTALL_TIMEOUT" default:"30m" usage:"complete_upload waits this long for the device to fetch and install the files"`
	DevicePairingCodeTTL time.Duration `flag:"device-pairing-code-ttl" env:"SY_DEVICE_PAIRING_CODE_TTL" default:"60s" usage:"lifetime of a 6-digit pairing code (expiresIn)"`
	DevicePairingWindow  time.Duration `flag:"device-pairing-window" env:"SY_DEVICE_PAIRING_WINDOW" default:"5m" usage:"window of the wrong pairing attempt limits"`
	DevicePairingPerDev  int           `flag:"device-pairing-per-device" env:"SY_DEVICE_PAIRING_PER_DEVICE" default:"5" usage:"wrong pairing codes accepted per device per window; above it pair_confirm fails until the window ends"`
	DevicePairingPerAddr int           `flag:"device-pairing-per-addr" env:"SY_DEVICE_PAIRING_PER_ADDR" default:"10" usage:"wrong pairing codes accepted per source address per window"`
	DeviceShowCode       bool          `flag:"device-show-code" env:"SY_DEVICE_SHOW_CODE" default:"false" usage:"also put the pairing code in pairing_required (document 001's example does; off: the code is only shown on the device)"`
	DeviceProgressEvery  time.Duration `flag:"device-progress-every" env:"SY_DEVICE_PROGRESS_EVERY" default:"250ms" usage:"at most one upload_progress per upload and socket this often (the last chunk always reports)"`
	DeviceDownloadBase   string        `flag:"device-download-base" env:"SY_DEVICE_DOWNLOAD_BASE" default:"" usage:"base URL of download links in device.upload_ready (empty: relative, the device resolves it against its hub URL)"`
	// Limits on sockets, for every dialect (limits.go; issue 9).
	AuthTimeout            time.Duration `flag:"auth-timeout" env:"SY_AUTH_TIMEOUT" default:"5s" usage:"a socket whose principal is not known this long after the upgrade (for /ws/runtime: no accepted runtime.hello) is closed 1008 auth_timeout"`
	PreAuthMaxMessageBytes int64         `flag:"preauth-max-message-bytes" env:"SY_PREAUTH_MAX_MESSAGE_BYTES" default:"65536" usage:"largest frame before the socket is authenticated (close 1009 above)"`
	MaxSocketsPerIP        int           `flag:"max-sockets-per-ip" env:"SY_MAX_SOCKETS_PER_IP" default:"512" usage:"sockets one source address may hold on this gateway (HTTP 429 above); 0 disables"`
	MaxSocketsPerPrincipal int           `flag:"max-sockets-per-principal" env:"SY_MAX_SOCKETS_PER_PRINCIPAL" default:"256" usage:"sockets one user or runtime may hold on this gateway (HTTP 429 at the upgrade, or close 4029 when it authenticates later); 0 disables"`
	TrustedProxies         []string      `flag:"trusted-proxies" env:"SY_TRUSTED_PROXIES" default:"" usage:"comma list of proxy IPs or CIDRs whose X-Forwarded-For names the source address (SY_MAX_SOCKETS_PER_IP)"`
	ReadBudgetBytes        int64         `flag:"read-budget-bytes" env:"SY_READ_BUDGET_BYTES" default:"268435456" usage:"bytes of frames all sockets of the gateway may be reading and handling at once (beyond the first 64 KiB of each frame); 0 disables"`
	IngestMaxLag           time.Duration `flag:"ingest-max-lag" env:"SY_INGEST_MAX_LAG" default:"1s" usage:"when one SY_IN partition's unfinished frames (over 100) would take longer than this to drain at its measured rate, runtime sockets writing to it are read no faster than it drains (TCP backpressure; a frame waits at most 5s); client sockets are never paused; 0 disables"`
	IngestMaxBacklog       int64         `flag:"ingest-max-backlog" env:"SY_INGEST_MAX_BACKLOG" default:"2000" usage:"the same pause when one SY_IN partition has this many unfinished messages (a batch of frames counts once), whatever its rate; 0 disables"`
	DirectAppend           bool          `flag:"direct-append" env:"SY_DIRECT_APPEND" default:"true" usage:"a runtime socket appends its sessions' streamed output (agent.output, tool use and results, turn.started) to the transcript itself once the session service has confirmed the socket is the session's runtime, instead of through SY_IN and the session service; false: every frame goes through SY_IN"`
	ReadBudgetWait         time.Duration `flag:"read-budget-wait" env:"SY_READ_BUDGET_WAIT" default:"5s" usage:"how long a large frame waits for read budget before its socket is closed 1013"`
}

// Defaults is the configuration with every setting at its documented
// default (the `default:` tags), ignoring the environment: what a test or
// the dev stack starts from, so no setting is ever left at zero.
func Defaults() Config {
	var c Config
	config.Defaults(&c) // panics on a bad tag: they are fixed at compile time
	return c
}

// Validate checks the gateway settings; every error names the setting,
// its value and what is wanted (config.Invalid).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, got any, want string) { errs = append(errs, config.Invalid(c, field, got, want)) }
	errs = append(errs, c.Common.Validate())
	if c.Config.Enabled() {
		errs = append(errs, c.Config.Validate())
	}
	if c.PingPeriod <= 0 {
		bad("PingPeriod", c.PingPeriod, "want a positive duration")
	}
	if c.PongWait <= c.PingPeriod {
		bad("PongWait", c.PongWait, fmt.Sprintf("must exceed %s (%s)", config.Name(c, "PingPeriod"), c.PingPeriod))
	}
	if c.WriteWait <= 0 {
		bad("WriteWait", c.WriteWait, "want a positive duration")
	}
	for _, f := range []struct {
		field string
		v     int64
	}{{"SendQueueFrames", int64(c.SendQueueFrames)}, {"SendQueueBytes", int64(c.SendQueueBytes)},
		{"MaxMessageBytes", c.MaxMessageBytes}, {"HistoryPage", int64(c.HistoryPage)}, {"MaxFileBytes", c.MaxFileBytes}} {
		if f.v < 1 {
			bad(f.field, f.v, "want a positive number")
		}
	}
	if c.DrainTimeout <= 0 {
		bad("DrainTimeout", c.DrainTimeout, "want a positive duration")
	}
	if c.DrainJitter < 0 || c.DrainJitter > c.DrainTimeout {
		bad("DrainJitter", c.DrainJitter, fmt.Sprintf("want 0..%s (%s)", config.Name(c, "DrainTimeout"), c.DrainTimeout))
	}
	if c.RateLimit < 0 {
		bad("RateLimit", c.RateLimit, "want frames per second >= 0 (0: no limit)")
	}
	if c.RuntimeRateLimit < 0 {
		bad("RuntimeRateLimit", c.RuntimeRateLimit, "want frames per second >= 0 (0: no limit)")
	}
	if c.IngestMaxBacklog < 0 {
		bad("IngestMaxBacklog", c.IngestMaxBacklog, "want frames >= 0 (0: no bound)")
	}
	if c.IngestMaxLag < 0 {
		bad("IngestMaxLag", c.IngestMaxLag, "want a duration >= 0 (0: no bound)")
	}
	if c.TraceOutputRatio < 0 || c.TraceOutputRatio > 1 {
		bad("TraceOutputRatio", c.TraceOutputRatio, "want a share 0..1")
	}
	if c.InternalListen != "" && c.InternalListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		bad("InternalListen", c.InternalListen, fmt.Sprintf("must differ from %s: the internal listener is off the public one", config.Name(c, "Listen")))
	}
	for _, o := range c.AllowedOrigins {
		if err := checkOriginPattern(o); err != nil {
			bad("AllowedOrigins", o, err.Error())
		}
	}
	if c.DeviceRequestTimeout <= 0 || c.DeviceInstallTimeout <= 0 || c.DevicePairingCodeTTL < time.Second || c.DevicePairingWindow <= 0 {
		errs = append(errs, errors.New("device-request-timeout, device-install-timeout, device-pairing-window must be positive and device-pairing-code-ttl at least 1s"))
	}
	if c.DevicePairingPerDev < 1 || c.DevicePairingPerAddr < 1 {
		errs = append(errs, errors.New("device-pairing-per-device and device-pairing-per-addr must be at least 1"))
	}
	if c.AuthTimeout <= 0 || c.PreAuthMaxMessageBytes < 1 || c.ReadBudgetWait <= 0 {
		errs = append(errs, errors.New("auth-timeout, preauth-max-message-bytes and read-budget-wait must be positive"))
	}
	if c.MaxSocketsPerIP < 0 || c.MaxSocketsPerPrincipal < 0 || c.ReadBudgetBytes < 0 {
		errs = append(errs, errors.New("max-sockets-per-ip, max-sockets-per-principal and read-budget-bytes must not be negative"))
	}
	if c.ReadBudgetBytes > 0 && c.ReadBudgetBytes < c.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("read-budget-bytes (%d) must hold one frame of max-message-bytes (%d)", c.ReadBudgetBytes, c.MaxMessageBytes))
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// WSOptions are the socket limits and timings of the configuration.
func (c *Config) WSOptions() ws.Options {
	return ws.Options{
		PingPeriod: c.PingPeriod, PongWait: c.PongWait, WriteWait: c.WriteWait,
		MaxMessageBytes: c.MaxMessageBytes, QueueFrames: c.SendQueueFrames, QueueBytes: c.SendQueueBytes,
		PreAuthMaxMessageBytes: c.PreAuthMaxMessageBytes, BudgetWait: c.ReadBudgetWait,
	}
}

// Limits of the core that are not settings.
const (
	// ingestWindow bounds a streaming (runtime) socket's publishes awaiting
	// their JetStream ack; reading pauses above it.
	ingestWindow = 256
	// maxQueuedWork bounds the work a socket's frames may queue off its
	// read loop (Conn.Do, Conn.Serial); above it the socket is closed
	// (ReasonBacklog). Frame rates are limited well below it.
	maxQueuedWork = 1024
	// maxQueuedDeliveries bounds the directed envelopes waiting for one
	// socket; above it a delivery is refused (the relay reports
	// runtime_offline and the command is not lost).
	maxQueuedDeliveries = 1024
	// podPendingBytes and topicPendingBytes are the NATS client's buffers
	// of the pod's directed subject and of each followed session.
	podPendingBytes   = 256 << 20
	topicPendingBytes = 64 << 20
	// historyPageBytes bounds the stored bytes behind one history page.
	historyPageBytes = 1 << 20
	// repairPageMsgs and repairPageBytes bound one read of a gap repair.
	repairPageMsgs  = 1000
	repairPageBytes = 8 << 20
	// releaseTimeout bounds the Redis work when a socket ends.
	releaseTimeout = 5 * time.Second
	// readHeaderTimeout bounds an HTTP request's headers.
	readHeaderTimeout = 10 * time.Second
	// MaxJSONDepth bounds how deeply a text frame may nest objects and
	// arrays (invalid_message above), for every dialect.
	MaxJSONDepth = 64
	// busHeaderSlack is what an envelope's NATS headers (dedupe id,
	// type, trace context) may add to it against the server's max_payload.
	busHeaderSlack = 4 << 10
)
