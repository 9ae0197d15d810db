// Package routing is the relay service: it checks runtime tokens and
// registers endpoints on runtime.hello, and routes hub→runtime commands
// (SY_RT, one ordered consumer per partition) to the gateway pod that owns
// the runtime's socket, found in Redis.
package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Config is the relay service's configuration.
type Config struct {
	config.Common
	HTTPListen      string        `flag:"http-listen" env:"SY_HTTP_LISTEN" default:"127.0.0.1:9091" usage:"address of /healthz, /readyz and /metrics"`
	AckWait         time.Duration `flag:"ack-wait" env:"SY_ACK_WAIT" default:"5s" usage:"how long a command may stay unacked before it is handed out again; a dead replica's partitions move after this + 6s"`
	PartitionWindow int           `flag:"partition-window" env:"SY_PARTITION_WINDOW" default:"32" usage:"commands of one partition its owning replica holds at a time (routed one by one, in order)"`
	DeliveryWait    time.Duration `flag:"delivery-wait" env:"SY_DELIVERY_WAIT" default:"2s" usage:"how long the owning gateway has to confirm a delivery"`
	RuntimeTokens   []string      `flag:"runtime-tokens" env:"SY_RUNTIME_TOKENS" default:"" usage:"comma list of token=runtime_id (runtime_id * allows any id)"`
	// Hub-issued runtime tokens (tokens.go).
	RuntimeTokenTTL   time.Duration `flag:"runtime-token-ttl" env:"SY_RUNTIME_TOKEN_TTL" default:"24h" usage:"lifetime of a hub-issued runtime token"`
	RuntimeTokenGrace time.Duration `flag:"runtime-token-grace" env:"SY_RUNTIME_TOKEN_GRACE" default:"5m" usage:"how long a runtime's previous hub-issued token keeps working after a refresh"`
	// Endpoint ownership (endpoints.go).
	EndpointOwnerGrace time.Duration `flag:"endpoint-owner-grace" env:"SY_ENDPOINT_OWNER_GRACE" default:"15m" usage:"how long an endpoint's owner must be offline before another runtime may register the endpoint (0: as soon as it is offline)"`
}

// Validate checks the settings, naming each bad one.
func (c *Config) Validate() error {
	return errors.Join(c.Common.Validate(), config.CheckWindow(c, "PartitionWindow", c.PartitionWindow))
}

// Service is one replica of the relay service.
type Service struct {
	cfg    Config
	bus    *bus.Bus
	rdb    redis.UniversalClient
	owners ownership.Lookup
	tokens *auth.Table
	log    *slog.Logger
	tracer trace.Tracer
	cat    *catalog.Catalog
	parts  *bus.Partitions
	m      *metrics
	clock  clock.Clock
	reg    *registrar // endpoints.go: endpoint records and their owners
	admin  adminState // config.go, tokens.go: endpoint config and runtime tokens

	subs     []*nats.Subscription // requests.go
	inflight sync.WaitGroup       // async requests (config updates waiting on runtimes)
}

// New prepares a replica; Start makes it serve.
func New(cfg Config, b *bus.Bus, rdb redis.UniversalClient, tel *telemetry.Telemetry) (*Service, error) {
	tokens, err := auth.ParseTable(cfg.RuntimeTokens)
	if err != nil {
		return nil, err
	}
	if tokens.Len() == 0 {
		tel.Log.Warn("no runtime tokens configured (SY_RUNTIME_TOKENS): only admin-issued tokens (POST /v1/runtimes/{id}/tokens) will be accepted")
	}
	s := &Service{cfg: cfg, bus: b, rdb: rdb, owners: ownership.Lookup{RDB: rdb}, tokens: tokens,
		log: tel.Log, tracer: tel.Tracer, m: newMetrics(tel.Registry), clock: clock.System}
	s.reg = &registrar{online: s.owners, clock: s.clock, grace: cfg.EndpointOwnerGrace, log: s.log, refused: s.m.claimsRefused}
	return s, nil
}

// Start ensures the streams, serves runtime.hello checks and routes commands.
func (s *Service) Start(ctx context.Context) error {
	if err := s.bus.EnsureStreams(ctx, bus.Limits{Replicas: s.cfg.StreamReplicas}); err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, s.bus)
	if err != nil {
		return err
	}
	s.cat, s.reg.eps = cat, cat
	if err := s.startAdmin(ctx); err != nil {
		return err
	}
	if err := s.startRequests(ctx); err != nil {
		return err
	}
	s.parts, err = s.bus.ConsumePartitions(ctx, bus.PartitionOptions{
		Stream: bus.StreamRuntime(), Durable: "relay", Partitions: s.cfg.Partitions, AckWait: s.cfg.AckWait, Window: s.cfg.PartitionWindow, Member: s.cfg.PodName(), Log: s.log,
	}, s.route)
	if err != nil {
		return err
	}
	s.log.Info("relay service routing", "partitions", s.cfg.Partitions, "runtime_tokens", s.tokens.Len())
	return nil
}

// Stop stops consuming and waits for in-flight commands.
func (s *Service) Stop() {
	s.stopRequests()
	if s.parts != nil {
		s.parts.Stop()
	}
}

// Ready reports whether the replica can work.
func (s *Service) Ready() error { return bus.ConsumerReady(s.bus, s.parts) }

// helloRequest serves bus.SubjRelayHello(): check a runtime's token and
// register its endpoints. A refusal carries HelloAck.code (pkg/errcode):
// unavailable (the relay could not check: the gateway closes 1013),
// auth_failed or endpoint_owned (1008); the human error text starts with
// the code, as it always did.
func (s *Service) helloRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	ack := s.hello1(ctx, env.GetRuntimeHello())
	s.m.hellos.WithLabelValues(fmt.Sprint(ack.GetOk())).Inc()
	return &syv1.Envelope{Type: kind.HelloAck, Body: &syv1.Envelope_HelloAck{HelloAck: ack}}
}

func (s *Service) hello1(ctx context.Context, h *syv1.RuntimeHello) *syv1.HelloAck {
	now := s.clock.Now()
	chk, err := s.checkToken(ctx, h.GetRuntimeId(), auth.Digest(h.GetToken()), now)
	if err != nil {
		s.log.ErrorContext(ctx, "runtime token not checked", "runtime_id", h.GetRuntimeId(), "err", err)
		return refuse(errcode.Unavailable, "token store unavailable, retry")
	}
	if !chk.ok {
		s.log.WarnContext(ctx, "runtime token refused", "runtime_id", h.GetRuntimeId(), "reason", chk.reason)
		return refuse(errcode.AuthFailed, chk.reason)
	}
	configs, refusal := s.reg.claim(ctx, h)
	if refusal != nil {
		return refusal
	}
	ack := &syv1.HelloAck{Ok: true, Configs: configs, Warnings: helloWarnings(h)}
	if !chk.preShared {
		ack.TokenExpiresAt = clock.Stamp(chk.expiresAt)
	}
	for _, w := range ack.Warnings {
		s.log.WarnContext(ctx, "runtime hello: "+w, "runtime_id", h.GetRuntimeId(), "revision", revisionOf(h))
	}
	s.log.InfoContext(ctx, "runtime registered", "runtime_id", h.GetRuntimeId(), "endpoints", len(h.GetEndpoints()),
		"hub_token", !chk.preShared, "config_overrides", len(ack.Configs), "revision", revisionOf(h))
	return ack
}

// route delivers one command to its runtime's socket, or reports to the
// session service that it could not.
func (s *Service) route(ctx context.Context, env *syv1.Envelope) error {
	ctx, span := s.tracer.Start(ctx, "relay.route "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.runtime_id", env.GetRuntimeId())),
		telemetry.Messaging(telemetry.OpProcess, bus.Subject(ctx)))
	defer span.End()
	code, msg, err := s.deliver(ctx, env)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	s.m.routed.WithLabelValues(env.GetType(), outcome(code)).Inc()
	if code == "" {
		return nil
	}
	span.SetAttributes(attribute.String("sy.route_failed", code))
	failed := &syv1.Envelope{
		Id: env.GetId() + ".failed", Type: kind.RouteFailed, SessionId: env.GetSessionId(), Ts: clock.Stamp(time.Now()),
		Body: &syv1.Envelope_RouteFailed{RouteFailed: &syv1.RouteFailed{Code: code, Message: msg, Original: env}},
	}
	_, err = s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, env.GetSessionId()), failed)
	return err
}

func outcome(code string) string {
	if code == "" {
		return "delivered"
	}
	return code
}

// deliveredKey marks a command as delivered, so a redelivery of the same
// command (relay crashed before its ack) is not written to the runtime twice.
func deliveredKey(id string) string { return namespace.Key("sy:dlv:") + id }

// deliver returns a failure code and message when the command cannot
// reach its runtime; err is for transient trouble worth a redelivery.
func (s *Service) deliver(ctx context.Context, env *syv1.Envelope) (code, msg string, err error) {
	if n, err := s.rdb.Exists(ctx, deliveredKey(env.GetId())).Result(); err == nil && n > 0 {
		return "", "", nil
	}
	pod, conn, ok, err := s.owners.Runtime(ctx, env.GetRuntimeId())
	if err != nil {
		return "", "", err
	}
	if !ok {
		return errcode.RuntimeOffline, "runtime " + env.GetRuntimeId() + " is offline", nil
	}
	env.Target = &syv1.Route{Pod: pod, ConnId: conn, Dialect: kind.RoleRuntime.String(), Role: kind.RoleRuntime.String()}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DeliveryWait)
	defer cancel()
	reply, err := s.bus.Request(dctx, bus.PodSubject(pod), env)
	if err != nil {
		return errcode.RuntimeOffline, "runtime " + env.GetRuntimeId() + " is unreachable: its gateway did not confirm delivery", nil
	}
	if e := reply.GetError(); e != nil {
		return errcode.RuntimeOffline, "runtime " + env.GetRuntimeId() + " is offline: " + e.GetMessage(), nil
	}
	if err := s.rdb.Set(ctx, deliveredKey(env.GetId()), 1, 2*time.Minute).Err(); err != nil {
		s.log.WarnContext(ctx, "delivery mark not stored", "err", err)
	}
	return "", "", nil
}

type metrics struct {
	hellos        *prometheus.CounterVec
	routed        *prometheus.CounterVec
	claimsRefused prometheus.Counter
	releases      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		hellos:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_relay_hellos_total", Help: "runtime.hello checks, by outcome (ok true/false)."}, []string{"ok"}),
		routed:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_relay_commands_total", Help: "Hub-to-runtime commands routed, by type and outcome."}, []string{"type", "outcome"}),
		claimsRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_relay_endpoint_claims_refused_total", Help: "runtime.hello refused because an endpoint belongs to another runtime (endpoint_owned)."}),
		releases:      prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_relay_endpoint_releases_total", Help: "Endpoints released by an admin (DELETE /v1/endpoints/{id}/owner)."}),
	}
	reg.MustRegister(m.hellos, m.routed, m.claimsRefused, m.releases)
	return m
}
