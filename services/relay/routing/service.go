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
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Config is the relay service's configuration.
type Config struct {
	config.Common
	HTTPListen    string        `flag:"http-listen" env:"SY_HTTP_LISTEN" default:"127.0.0.1:9091" usage:"address of /healthz, /readyz and /metrics"`
	AckWait       time.Duration `flag:"ack-wait" env:"SY_ACK_WAIT" default:"5s" usage:"how long a command may stay unacked before another replica gets it (failover time)"`
	DeliveryWait  time.Duration `flag:"delivery-wait" env:"SY_DELIVERY_WAIT" default:"2s" usage:"how long the owning gateway has to confirm a delivery"`
	RuntimeTokens []string      `flag:"runtime-tokens" env:"SY_RUNTIME_TOKENS" default:"" usage:"comma list of token=runtime_id (runtime_id * allows any id)"`
	// Hub-issued runtime tokens (tokens.go).
	RuntimeTokenTTL   time.Duration `flag:"runtime-token-ttl" env:"SY_RUNTIME_TOKEN_TTL" default:"24h" usage:"lifetime of a hub-issued runtime token"`
	RuntimeTokenGrace time.Duration `flag:"runtime-token-grace" env:"SY_RUNTIME_TOKEN_GRACE" default:"5m" usage:"how long a runtime's previous hub-issued token keeps working after a refresh"`
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
	hello  *nats.Subscription
	m      *metrics
	admin  adminState // config.go, tokens.go: endpoint config and runtime tokens
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
	return &Service{cfg: cfg, bus: b, rdb: rdb, owners: ownership.Lookup{RDB: rdb}, tokens: tokens,
		log: tel.Log, tracer: tel.Tracer, m: newMetrics(tel.Registry)}, nil
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
	s.cat = cat
	s.hello, err = s.bus.NC.QueueSubscribe(bus.SubjRelayHello, bus.QueueRelay, func(m *nats.Msg) { s.handleHello(ctx, m) })
	if err != nil {
		return fmt.Errorf("routing: subscribe %s: %w", bus.SubjRelayHello, err)
	}
	if err := s.startAdmin(ctx); err != nil {
		return err
	}
	s.parts, err = s.bus.ConsumePartitions(ctx, bus.PartitionOptions{
		Stream: bus.StreamRuntime, Durable: "relay", Partitions: s.cfg.Partitions, AckWait: s.cfg.AckWait, Log: s.log,
	}, s.route)
	if err != nil {
		return err
	}
	s.log.Info("relay service routing", "partitions", s.cfg.Partitions, "runtime_tokens", s.tokens.Len())
	return nil
}

// Stop stops consuming and waits for in-flight commands.
func (s *Service) Stop() {
	if s.hello != nil {
		_ = s.hello.Drain()
	}
	s.stopAdmin()
	if s.parts != nil {
		s.parts.Stop()
	}
}

// Ready reports whether the replica can work.
func (s *Service) Ready() error { return bus.ConsumerReady(s.bus, s.parts) }

// handleHello checks a runtime's token and records its endpoints.
func (s *Service) handleHello(ctx context.Context, m *nats.Msg) {
	ctx, env, err := bus.Decode(ctx, m.Data, m.Header)
	if err != nil {
		s.log.Warn("bad hello request", "err", err)
		return
	}
	ctx, span := s.tracer.Start(ctx, "relay.hello", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	ack := s.hello1(ctx, env.GetRuntimeHello())
	s.m.hellos.WithLabelValues(fmt.Sprint(ack.GetOk())).Inc()
	reply := &syv1.Envelope{Type: amurg.TypeHelloAck, Body: &syv1.Envelope_HelloAck{HelloAck: ack}}
	if err := s.bus.Reply(ctx, m, reply); err != nil {
		s.log.WarnContext(ctx, "hello reply not sent", "err", err)
	}
}

func (s *Service) hello1(ctx context.Context, h *syv1.RuntimeHello) *syv1.HelloAck {
	now := time.Now()
	chk, err := s.checkToken(ctx, h.GetRuntimeId(), auth.Digest(h.GetToken()), now)
	if err != nil {
		s.log.ErrorContext(ctx, "runtime token not checked", "runtime_id", h.GetRuntimeId(), "err", err)
		return &syv1.HelloAck{Ok: false, Error: "unavailable: token store unavailable, retry"}
	}
	if !chk.ok {
		s.log.WarnContext(ctx, "runtime token refused", "runtime_id", h.GetRuntimeId(), "reason", chk.reason)
		return &syv1.HelloAck{Ok: false, Error: "auth_failed: " + chk.reason}
	}
	ack := &syv1.HelloAck{Ok: true}
	if !chk.preShared {
		ack.TokenExpiresAt = amurg.Timestamp(chk.expiresAt)
	}
	for _, ep := range h.GetEndpoints() {
		rec := &syv1.EndpointRecord{Endpoint: ep, RuntimeId: h.GetRuntimeId(), OrgId: h.GetOrgId(), RegisteredAt: amurg.Timestamp(now)}
		// An admin's override outlives re-registration; it is re-sent after hello.ack.
		old, err := s.cat.Endpoint(ctx, ep.GetId())
		if err == nil && old.GetOverride() != nil {
			rec.Override = old.GetOverride()
			ack.Configs = append(ack.Configs, old.GetOverride())
		}
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			s.log.ErrorContext(ctx, "endpoint record not read", "endpoint", ep.GetId(), "err", err)
			return &syv1.HelloAck{Ok: false, Error: "unavailable: endpoint registry unavailable, retry"}
		}
		if err := s.cat.PutEndpoint(ctx, rec); err != nil {
			s.log.ErrorContext(ctx, "endpoint not registered", "endpoint", ep.GetId(), "err", err)
			return &syv1.HelloAck{Ok: false, Error: "unavailable: endpoint registry unavailable, retry"}
		}
	}
	s.log.InfoContext(ctx, "runtime registered", "runtime_id", h.GetRuntimeId(), "endpoints", len(h.GetEndpoints()),
		"hub_token", !chk.preShared, "config_overrides", len(ack.Configs))
	return ack
}

// route delivers one command to its runtime's socket, or reports to the
// session service that it could not.
func (s *Service) route(ctx context.Context, env *syv1.Envelope) error {
	ctx, span := s.tracer.Start(ctx, "relay.route "+env.GetType(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.runtime_id", env.GetRuntimeId())))
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
		Id: env.GetId() + ".failed", Type: bus.TypeRouteFailed, SessionId: env.GetSessionId(), Ts: amurg.Timestamp(time.Now()),
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
func deliveredKey(id string) string { return "sy:dlv:" + id }

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
	env.Target = &syv1.Route{Pod: pod, ConnId: conn, Dialect: amurg.RoleRuntime.String()}
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
	hellos *prometheus.CounterVec
	routed *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		hellos: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_relay_hellos_total", Help: "runtime.hello checks, by outcome (ok true/false)."}, []string{"ok"}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_relay_commands_total", Help: "Hub-to-runtime commands routed, by type and outcome."}, []string{"type", "outcome"}),
	}
	reg.MustRegister(m.hellos, m.routed)
	return m
}
