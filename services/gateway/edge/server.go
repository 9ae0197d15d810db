// Package edge is the gateway: it terminates WebSockets of every dialect,
// converts JSON frames to protobuf Envelopes at the edge, publishes them on
// the bus, delivers directed envelopes (sy.gw.<pod>) and fans transcript
// events out to local subscribers through per-session NATS interest, and
// records socket ownership in Redis.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/health"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	"github.com/switchyard-hub/switchyard/services/gateway/console"
)

// Config is the gateway's configuration.
type Config struct {
	config.Common
	Listen           string        `flag:"listen" env:"SY_LISTEN" default:"127.0.0.1:8080" usage:"address of WebSocket, REST, health and metrics"`
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
	// Admin REST and runtime tokens (admin.go).
	AdminTokens        []string      `flag:"admin-tokens" env:"SY_ADMIN_TOKENS" default:"" usage:"comma list of token=admin_name for admin REST"`
	TokenRefreshBefore time.Duration `flag:"token-refresh-before" env:"SY_TOKEN_REFRESH_BEFORE" default:"1h" usage:"refresh a runtime's hub-issued token this long before it expires (at 80% of its remaining life when that is shorter)"`
	MaxFileBytes       int64         `flag:"max-file-bytes" env:"SY_MAX_FILE_BYTES" default:"7340032" usage:"largest file accepted by POST /files and in file.available (file_too_large above); base64 of 7 MiB fits a 10 MiB frame"`
}

// Validate checks the gateway settings.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.Common.Validate())
	if c.PongWait <= c.PingPeriod {
		errs = append(errs, fmt.Errorf("pong-wait (%s) must exceed ping-period (%s)", c.PongWait, c.PingPeriod))
	}
	if c.SendQueueFrames < 1 || c.SendQueueBytes < 1 {
		errs = append(errs, errors.New("send queue limits must be positive"))
	}
	if c.DrainJitter > c.DrainTimeout {
		errs = append(errs, errors.New("drain-jitter must not exceed drain-timeout"))
	}
	return errors.Join(errs...)
}

func (c *Config) wsOptions() ws.Options {
	return ws.Options{
		PingPeriod: c.PingPeriod, PongWait: c.PongWait, WriteWait: c.WriteWait,
		MaxMessageBytes: c.MaxMessageBytes, QueueFrames: c.SendQueueFrames, QueueBytes: c.SendQueueBytes,
	}
}

// Server is one gateway pod.
type Server struct {
	cfg     Config
	pod     string
	bus     *bus.Bus
	rdb     redis.UniversalClient
	reg     *ownership.Registry
	owners  ownership.Lookup
	clients *auth.Table
	log     *slog.Logger
	tracer  trace.Tracer
	tel     *telemetry.Telemetry
	m       *metrics

	cat    *catalog.Catalog
	store  *transcript.Store
	topics *topics

	httpSrv  *http.Server
	ln       net.Listener
	podSub   *nats.Subscription
	draining atomic.Bool
	redisOK  atomic.Bool
	cancel   context.CancelFunc
	hbStop   context.CancelFunc
	hbDone   chan struct{}
	connSeq  atomic.Uint64
	boot     string // random per process start, so conn ids never repeat

	mu      sync.Mutex
	sockets map[string]*socket
}

// New prepares a gateway; Start makes it listen.
func New(cfg Config, b *bus.Bus, rdb redis.UniversalClient, tel *telemetry.Telemetry) (*Server, error) {
	clients, err := auth.ParseTable(cfg.ClientTokens)
	if err != nil {
		return nil, err
	}
	pod := cfg.PodName()
	s := &Server{
		cfg: cfg, pod: pod, bus: b, rdb: rdb, clients: clients, tel: tel, log: tel.Log, tracer: tel.Tracer,
		reg:     ownership.NewRegistry(rdb, pod, cfg.OwnerTTL, tel.Log),
		owners:  ownership.Lookup{RDB: rdb},
		sockets: map[string]*socket{},
		boot:    strconv.FormatUint(rand.Uint64()>>40, 36),
	}
	s.m = newMetrics(tel.Registry, s)
	return s, nil
}

// Start binds the listener, subscribes to this pod's delivery subject and
// starts the ownership heartbeat.
func (s *Server) Start(ctx context.Context) error {
	if err := s.bus.EnsureStreams(ctx, bus.Limits{Replicas: s.cfg.StreamReplicas}); err != nil {
		return err
	}
	var err error
	if s.cat, err = catalog.Open(ctx, s.bus); err != nil {
		return err
	}
	if s.store, err = transcript.Open(ctx, s.bus); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.topics = newTopics(s)
	if s.podSub, err = s.bus.NC.Subscribe(bus.PodSubject(s.pod), func(m *nats.Msg) { s.onDirected(runCtx, m) }); err != nil {
		return fmt.Errorf("gateway: subscribe %s: %w", bus.PodSubject(s.pod), err)
	}
	_ = s.podSub.SetPendingLimits(-1, 256<<20)
	if err := s.reg.Heartbeat(ctx); err != nil {
		s.log.Warn("first ownership heartbeat failed; retrying in the background", "err", err)
	} else {
		s.redisOK.Store(true)
	}
	hbCtx, hbStop := context.WithCancel(runCtx)
	s.hbStop, s.hbDone = hbStop, make(chan struct{})
	go s.heartbeat(hbCtx)
	if s.ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("gateway: listen %s: %w", s.cfg.Listen, err)
	}
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gateway http server stopped", "err", err)
		}
	}()
	s.log.Info("gateway listening", "addr", s.Addr(), "pod", s.pod)
	return nil
}

func (s *Server) heartbeat(ctx context.Context) {
	defer close(s.hbDone)
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.reg.Heartbeat(ctx)
		s.redisOK.Store(err == nil)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("ownership heartbeat failed", "err", err)
		}
	}
}

// Addr is the bound listen address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Pod is this gateway's pod name.
func (s *Server) Pod() string { return s.pod }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws/runtime", s.serveRuntime)
	mux.HandleFunc("/ws/client", s.serveClient)
	s.restRoutes(mux)
	s.consoleAPIRoutes(mux) // console_api.go
	mux.Handle("/console/", console.Handler())
	health.Handlers(mux, s.Ready, s.tel.MetricsHandler())
	return mux
}

// Ready reports whether the pod should receive new sockets.
func (s *Server) Ready() error {
	switch {
	case s.draining.Load():
		return errors.New("draining")
	case !s.bus.Ready():
		return errors.New("nats not connected")
	case !s.redisOK.Load():
		return errors.New("redis unreachable")
	}
	return nil
}

// Shutdown drains the pod: readiness fails at once, no new sockets are
// accepted, every socket is closed with 1001 (going away: reconnect
// elsewhere) at a random moment within the drain jitter after its queued
// frames are written, then ownership records are withdrawn.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	go func() { _ = s.httpSrv.Shutdown(ctx) }()
	s.mu.Lock()
	socks := make([]*socket, 0, len(s.sockets))
	for _, sk := range s.sockets {
		socks = append(socks, sk)
	}
	s.mu.Unlock()
	s.log.Info("draining", "sockets", len(socks), "jitter", s.cfg.DrainJitter)
	var wg sync.WaitGroup
	for _, sk := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.cfg.DrainJitter > 0 {
				select {
				case <-time.After(rand.N(s.cfg.DrainJitter)):
				case <-ctx.Done():
				}
			}
			sk.conn.Close(ws.CloseGoingAway, "server draining, reconnect")
			select {
			case <-sk.conn.Done():
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	if s.podSub != nil {
		_ = s.podSub.Unsubscribe()
	}
	s.topics.closeAll()
	// No heartbeat may re-create a record after the withdrawal.
	s.hbStop()
	<-s.hbDone
	err := s.reg.Withdraw(context.WithoutCancel(ctx))
	s.cancel()
	s.log.Info("drained", "err", err)
	return err
}

func (s *Server) newConnID() string {
	return s.pod + "-" + s.boot + "-" + strconv.FormatUint(s.connSeq.Add(1), 36)
}
