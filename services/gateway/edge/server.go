// Package edge is the gateway's core, and knows no dialect. It terminates
// WebSockets for the dialects registered on it (Dialect), publishes what
// they hand it on the bus (Conn.Ingest), delivers directed envelopes
// (sy.gw.<pod>) on per-socket workers, fans transcript events out to local
// subscribers through per-session NATS interest (Conn.Follow), broadcasts
// pod-wide (Server.Broadcast), and records socket ownership in Redis.
// REST, files and the dialects are rooms registered by the gateway's main
// (services/gateway/pod).
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/auth/jwtauth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// Server is one gateway pod.
type Server struct {
	cfg     Config
	pod     string
	bus     *bus.Bus
	reg     *ownership.Registry
	owners  ownership.Lookup
	clients *auth.Table
	log     *slog.Logger
	tracer  trace.Tracer
	tel     *telemetry.Telemetry
	m       *metrics

	cat    *catalog.Catalog
	store  *transcript.Store
	tw     *transcript.Writer // direct appends of runtime output (direct.go)
	topics *topics

	mux           *http.ServeMux
	httpHooks     []HTTPHook
	statusHooks   []RuntimeStatusHook
	dialects      []Dialect
	deliveryHooks map[string]DeliveryHook
	ingestHooks   map[string]IngestHook

	httpSrv     *http.Server
	ln          net.Listener
	internalSrv *http.Server
	internalLn  net.Listener
	extra       []*extraListener  // Listen: more listeners (e.g. the chat compatibility port)
	jwt         *jwtauth.Verifier // nil: JWTs not configured
	jwtStop     context.CancelFunc
	podSub      *nats.Subscription
	draining    atomic.Bool
	hbStop      context.CancelFunc
	hbDone      chan struct{}
	floorsDone  chan struct{} // KeepFloors of tw ended (seqFloorInterval)
	connSeq     atomic.Uint64
	boot        string // random per process start, so conn ids never repeat

	admins  *auth.Table    // SY_ADMIN_TOKENS (empty when unusable: fail closed)
	budget  *ws.Budget     // read budget of every socket (SY_READ_BUDGET_BYTES)
	admit   *admission     // SY_INGEST_MAX_BACKLOG; nil: off
	proxies []netip.Prefix // SY_TRUSTED_PROXIES

	mu           sync.Mutex
	conns        map[string]*Conn
	perAddr      map[string]int // sockets by source address
	perPrincipal map[string]int // sockets by role/principal
}

// New prepares a gateway; rooms are registered on it, then Start makes it
// listen.
func New(cfg Config, b *bus.Bus, rdb redis.UniversalClient, tel *telemetry.Telemetry) (*Server, error) {
	clients, err := auth.ParseTable(cfg.ClientTokens)
	if err != nil {
		return nil, err
	}
	proxies, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	pod := cfg.PodName()
	s := &Server{
		cfg: cfg, pod: pod, bus: b, clients: clients, tel: tel, log: tel.Log, tracer: tel.Tracer,
		reg:           ownership.NewRegistry(rdb, pod, cfg.OwnerTTL, tel.Log),
		owners:        ownership.Lookup{RDB: rdb},
		conns:         map[string]*Conn{},
		perAddr:       map[string]int{},
		perPrincipal:  map[string]int{},
		budget:        ws.NewBudget(cfg.ReadBudgetBytes),
		proxies:       proxies,
		mux:           http.NewServeMux(),
		deliveryHooks: map[string]DeliveryHook{},
		ingestHooks:   map[string]IngestHook{},
		boot:          strconv.FormatUint(rand.Uint64()>>40, 36),
	}
	if s.admins, err = auth.ParseTable(cfg.AdminTokens); err != nil {
		// Fail closed: no token is taken for an admin's.
		s.log.Error("admin tokens unusable (SY_ADMIN_TOKENS); no admin call is served and no push reader is an admin by token", "err", err)
		s.admins, _ = auth.ParseTable(nil)
	}
	s.m = newMetrics(tel.Registry, s)
	s.admit = newAdmission(cfg.IngestMaxBacklog, cfg.IngestMaxLag, cfg.Partitions, tel.Registry)
	s.topics = newTopics(s)
	var jctx context.Context
	jctx, s.jwtStop = context.WithCancel(context.Background())
	if s.jwt, err = newVerifier(jctx, cfg, s); err != nil {
		s.jwtStop()
		return nil, err
	}
	return s, nil
}

// Register serves a dialect on its paths.
func (s *Server) Register(d Dialect) {
	s.dialects = append(s.dialects, d)
	for _, p := range d.Paths() {
		s.mux.HandleFunc(p, s.Upgrade(d))
	}
}

// Upgrade is the handler of dialect d's WebSocket upgrades, for a dialect
// that serves them on more paths or listeners than Paths (Listen).
func (s *Server) Upgrade(d Dialect) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serve(d, w, r) }
}

// extraListener is one more address the pod serves (Listen).
type extraListener struct {
	name     string
	addr     string
	h        http.Handler
	optional bool
	srv      *http.Server
	ln       net.Listener
}

// Listen serves h on one more address from Start until Shutdown (e.g. a
// dialect's compatibility port), under a name ListenAddr looks it up by.
// optional: an address that cannot be bound is logged and skipped instead
// of failing Start (the dev stack's fixed compatibility ports).
func (s *Server) Listen(name, addr string, h http.Handler, optional bool) {
	s.extra = append(s.extra, &extraListener{name: name, addr: addr, h: h, optional: optional})
}

// ListenAddr is the bound address of the listener named name ("" when it
// is not listening).
func (s *Server) ListenAddr(name string) string {
	for _, x := range s.extra {
		if x.name == name && x.ln != nil {
			return x.ln.Addr().String()
		}
	}
	return ""
}

func (s *Server) startExtra() error {
	for _, x := range s.extra {
		ln, err := net.Listen("tcp", x.addr)
		if err != nil {
			if x.optional {
				s.log.Warn("optional listener not started", "addr", x.addr, "err", err)
				continue
			}
			return fmt.Errorf("gateway: listen %s: %w", x.addr, err)
		}
		x.ln, x.srv = ln, &http.Server{Handler: x.h, ReadHeaderTimeout: readHeaderTimeout}
		go func() { _ = x.srv.Serve(ln) }()
		s.log.Info("gateway listening", "addr", ln.Addr().String(), "pod", s.pod)
	}
	return nil
}

// Handle serves an HTTP route (net/http pattern) beside the sockets. Every
// route runs the AfterHTTP hooks once it has answered.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, s.afterHTTP(h))
}

// OnDeliver runs hook on every directed envelope of kind k before it is
// rendered for its socket.
func (s *Server) OnDeliver(k string, hook DeliveryHook) { s.deliveryHooks[k] = hook }

// OnIngest runs hook on every envelope of kind k a socket ingests.
func (s *Server) OnIngest(k string, hook IngestHook) { s.ingestHooks[k] = hook }

// Start binds the listeners (unless UseListeners gave them), subscribes to
// this pod's delivery subject, starts the ownership heartbeat and serves.
func (s *Server) Start(ctx context.Context) error {
	if s.ln == nil {
		l, err := Bind(&s.cfg)
		if err != nil {
			return err
		}
		s.UseListeners(l)
	}
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
	s.tw = transcript.NewWriter(s.store)
	s.checkMaxPayload()
	if s.podSub, err = s.bus.NC.Subscribe(bus.PodSubject(s.pod), s.onDirected); err != nil {
		return fmt.Errorf("gateway: subscribe %s: %w", bus.PodSubject(s.pod), err)
	}
	_ = s.podSub.SetPendingLimits(-1, podPendingBytes)
	if err := s.reg.Heartbeat(ctx); err != nil {
		s.log.Warn("first ownership heartbeat failed; retrying in the background", "err", err)
	}
	hbCtx, hbStop := context.WithCancel(context.WithoutCancel(ctx))
	s.hbStop, s.hbDone = hbStop, make(chan struct{})
	go func() {
		defer close(s.hbDone)
		s.reg.Run(hbCtx, s.cfg.Heartbeat)
	}()
	s.floorsDone = make(chan struct{})
	go func() {
		defer close(s.floorsDone)
		s.cat.KeepFloors(hbCtx, s.tw.Floors(), seqFloorInterval, s.log)
	}()
	if s.admit != nil {
		go s.admit.run(hbCtx, s.bus, s.log)
	}
	if err := s.startExtra(); err != nil {
		return err
	}
	s.serveHTTP()
	s.log.Info("gateway listening", "addr", s.Addr(), "internal", s.InternalAddr(), "pod", s.pod)
	return nil
}

// Addr is the bound listen address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Pod is this gateway's pod name.
func (s *Server) Pod() string { return s.pod }

// Config is the gateway's configuration.
func (s *Server) Config() *Config { return &s.cfg }

// Bus is the pod's NATS connection.
func (s *Server) Bus() *bus.Bus { return s.bus }

// Catalog reads sessions, endpoints and permissions (available once started).
func (s *Server) Catalog() *catalog.Catalog { return s.cat }

// Transcripts reads transcripts (available once started).
func (s *Server) Transcripts() *transcript.Store { return s.store }

// Owners reads ownership records.
func (s *Server) Owners() ownership.Lookup { return s.owners }

// Clients is the client token table (SY_CLIENT_TOKENS).
func (s *Server) Clients() *auth.Table { return s.clients }

// Tracer and Log are the pod's telemetry.
func (s *Server) Tracer() trace.Tracer { return s.tracer }

// Log is the pod's logger.
func (s *Server) Log() *slog.Logger { return s.log }

// Ready reports whether the pod should receive new sockets.
func (s *Server) Ready() error {
	switch {
	case s.draining.Load():
		return errors.New("draining")
	case !s.bus.Ready():
		return errors.New("nats not connected")
	case !s.reg.Healthy():
		return errors.New("redis unreachable")
	}
	return nil
}

// Shutdown drains the pod: readiness fails at once, no new sockets are
// accepted, every socket is closed with 1001 (or its dialect's Drainer reason; going away: reconnect
// elsewhere) at a random moment within the drain jitter after its queued
// frames are written, then ownership records are withdrawn.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	// The listener stays open while the sockets close, so an upgrade in
	// the meantime gets 503 (serve) instead of a refused connection.
	defer func() { _ = s.httpSrv.Shutdown(ctx) }()
	for _, x := range s.extra {
		if x.srv != nil {
			defer func() { _ = x.srv.Shutdown(ctx) }()
		}
	}
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.log.Info("draining", "sockets", len(conns), "jitter", s.cfg.DrainJitter)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.cfg.DrainJitter > 0 {
				select {
				case <-time.After(rand.N(s.cfg.DrainJitter)):
				case <-ctx.Done():
				}
			}
			c.Close(drainReason(c.d), "")
			select {
			case <-c.Done():
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
	<-s.floorsDone // the floors of the last direct appends are written
	err := s.reg.Withdraw(context.WithoutCancel(ctx))
	s.jwtStop()
	s.shutdownInternal(ctx)
	s.log.Info("drained", "err", err)
	return err
}

// Drainer is a Dialect whose sockets close with another reason than
// ReasonDraining (1001) when the pod drains: push channels close with
// ReasonShutdown (1000), as their document says.
type Drainer interface {
	DrainReason() CloseReason
}

func drainReason(d Dialect) CloseReason {
	if dr, ok := d.(Drainer); ok {
		return dr.DrainReason()
	}
	return ReasonDraining
}

// ReadBudget is the pod's read budget (nil: none).
func (s *Server) ReadBudget() *ws.Budget { return s.budget }

// checkMaxPayload logs at start when frames the gateway accepts
// (SY_MAX_MESSAGE_BYTES) can be larger than the NATS server takes
// (max_payload): such frames are refused with message_too_large.
func (s *Server) checkMaxPayload() {
	if mp := s.bus.NC.MaxPayload(); s.cfg.MaxMessageBytes > mp-busHeaderSlack {
		s.log.Warn("SY_MAX_MESSAGE_BYTES exceeds the NATS server's max_payload: larger frames get error message_too_large; raise max_payload on the NATS server (docs/configuration.md)",
			"max_message_bytes", s.cfg.MaxMessageBytes, "nats_max_payload", mp)
	}
}

func (s *Server) newConnID() string {
	return s.pod + "-" + s.boot + "-" + strconv.FormatUint(s.connSeq.Add(1), 36)
}
