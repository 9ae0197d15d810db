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
	MaxFileBytes       int64         `flag:"max-file-bytes" env:"SY_MAX_FILE_BYTES" default:"7340032" usage:"largest file accepted by POST /files and in file.available (file_too_large above); base64 of 7 MiB fits a 10 MiB frame"`
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
	return errors.Join(errs...)
}

// WSOptions are the socket limits and timings of the configuration.
func (c *Config) WSOptions() ws.Options {
	return ws.Options{
		PingPeriod: c.PingPeriod, PongWait: c.PongWait, WriteWait: c.WriteWait,
		MaxMessageBytes: c.MaxMessageBytes, QueueFrames: c.SendQueueFrames, QueueBytes: c.SendQueueBytes,
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
)
