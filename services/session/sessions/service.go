// Package sessions is the session service: session lifecycle and turn
// state, per-session seq and the durable transcript, and session creation
// on behalf of REST callers.
//
// It consumes SY_IN (sy.in.<partition>.<session>) through one ordered
// consumer per partition, appends to SY_EVT, writes session records to the
// sy_sessions bucket and sends hub→runtime commands to SY_RT for the relay.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/session/jobs"
)

// Config is the session service's configuration.
type Config struct {
	config.Common
	HTTPListen string        `flag:"http-listen" env:"SY_HTTP_LISTEN" default:"127.0.0.1:9090" usage:"address of /healthz, /readyz and /metrics"`
	AckWait    time.Duration `flag:"ack-wait" env:"SY_ACK_WAIT" default:"5s" usage:"how long an inbound message may stay unacked before it is handed out again; a dead replica's partitions move after this + 6s"`
	// PartitionWindow: messages of a partition its owner pulls ahead (bus.PartitionOptions.Window).
	PartitionWindow int `flag:"partition-window" env:"SY_PARTITION_WINDOW" default:"32" usage:"inbound messages of one partition its owning replica holds at a time (handled one by one, in order)"`
	// Transcript retention.
	TranscriptMaxAge   time.Duration `flag:"transcript-max-age" env:"SY_TRANSCRIPT_MAX_AGE" default:"720h" usage:"how long transcripts are kept"`
	TranscriptMaxBytes int64         `flag:"transcript-max-bytes" env:"SY_TRANSCRIPT_MAX_BYTES" default:"8589934592" usage:"size limit of the transcript stream"`
	PermissionTimeout  time.Duration `flag:"permission-timeout" env:"SY_PERMISSION_TIMEOUT" default:"60s" usage:"an unanswered permission.request is denied by the hub after this"`
	SessionIdle        time.Duration `flag:"session-idle" env:"SY_SESSION_IDLE" default:"1h" usage:"sessions without a turn or activity for this long are closed (reason idle); 0 disables"`
	SweepInterval      time.Duration `flag:"sweep-interval" env:"SY_SWEEP_INTERVAL" default:"1s" usage:"how often replicas look for expired permission requests and idle sessions"`
	// Integrity and quotas (issue 9, floor.go, quota.go).
	TranscriptMaxMsgsPerSession int64         `flag:"transcript-max-msgs-per-session" env:"SY_TRANSCRIPT_MAX_MSGS_PER_SESSION" default:"100000" usage:"entries kept per session (its oldest go first, never another session's); -1: no cap"`
	SeqFloorInterval            time.Duration `flag:"seq-floor-interval" env:"SY_SEQ_FLOOR_INTERVAL" default:"1s" usage:"how often each changed session's last seq is written to its record (the floor that keeps seq from going back after retention)"`
	UserMessagesPerMinute       int64         `flag:"user-messages-per-minute" env:"SY_USER_MESSAGES_PER_MINUTE" default:"60" usage:"user.message frames one user may send per minute, over all sessions (0: no limit)"`
	UserBytesPerHour            int64         `flag:"user-bytes-per-hour" env:"SY_USER_BYTES_PER_HOUR" default:"268435456" usage:"transcript bytes one user's user.message frames may add per hour, over all sessions (0: no limit)"`
	// Scheduled jobs (jobrunner.go): every replica runs the scheduler.
	Jobs jobs.Config
}

// Validate checks the settings, naming each bad one.
func (c *Config) Validate() error {
	return errors.Join(c.Common.Validate(), config.CheckWindow(c, "PartitionWindow", c.PartitionWindow))
}

// Limits are the stream limits implied by the configuration.
func (c *Config) Limits() bus.Limits {
	return bus.Limits{Replicas: c.StreamReplicas, TranscriptMaxAge: c.TranscriptMaxAge, TranscriptMaxBytes: c.TranscriptMaxBytes,
		TranscriptMaxMsgsPerSession: c.TranscriptMaxMsgsPerSession, Owner: true}
}

// Service is one replica of the session service.
type Service struct {
	cfg    Config
	bus    *bus.Bus
	log    *slog.Logger
	tracer trace.Tracer
	cat    *catalog.Catalog
	tw     *transcript.Writer
	parts  *bus.Partitions
	create *nats.Subscription
	m      *metrics

	stopSweep  context.CancelFunc
	records    *recordCache
	floorsDone chan struct{} // KeepFloors of tw ended
	quota      *quotas
	stopJobs   func()         // stops the jobs scheduler (jobrunner.go)
	presence   presenceLookup // presence.go; nil without Redis

	// What the dispatcher needs, as interfaces so unit tests can fake them.
	clock    clock.Clock
	sessions sessionReader // s.cat
	out      sender        // s.bus: directed error frames
	table    map[string]handler
}

// sessionReader reads session records (catalog.Catalog).
type sessionReader interface {
	Session(ctx context.Context, id string) (*syv1.SessionInfo, uint64, error)
}

// sender publishes on core NATS (bus.Bus).
type sender interface {
	Send(ctx context.Context, subject string, env *syv1.Envelope) error
}

// New prepares a replica; Start makes it consume.
func New(cfg Config, b *bus.Bus, tel *telemetry.Telemetry) *Service {
	s := &Service{cfg: cfg, bus: b, log: tel.Log, tracer: tel.Tracer, m: newMetrics(tel.Registry), records: newRecordCache(),
		clock: clock.System, out: b}
	s.table = s.handlers()
	return s
}

// Start ensures the streams, then consumes inbound partitions and serves
// session-create requests.
func (s *Service) Start(ctx context.Context) error {
	if err := s.bus.EnsureStreams(ctx, s.cfg.Limits()); err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, s.bus)
	if err != nil {
		return err
	}
	store, err := transcript.Open(ctx, s.bus)
	if err != nil {
		return err
	}
	s.cat, s.sessions, s.tw = cat, cat, transcript.NewWriter(store)
	quotaKV, err := s.bus.KV(ctx, bus.BucketQuotas())
	if err != nil {
		return err
	}
	s.quota = &quotas{kv: quotaKV, limits: quotaLimits{messagesPerMinute: s.cfg.UserMessagesPerMinute, bytesPerHour: s.cfg.UserBytesPerHour}}
	s.create, err = s.bus.NC.QueueSubscribe(bus.SubjSessionCreate(), bus.QueueSession, func(m *nats.Msg) {
		go s.handleCreate(ctx, m)
	})
	if err != nil {
		return fmt.Errorf("sessions: subscribe %s: %w", bus.SubjSessionCreate(), err)
	}
	s.parts, err = s.bus.ConsumePartitions(ctx, bus.PartitionOptions{
		Stream: bus.StreamInbound(), Durable: bus.DurableSession, Partitions: s.cfg.Partitions,
		AckWait: s.cfg.AckWait, Window: s.cfg.PartitionWindow, Member: s.cfg.PodName(), Log: s.log,
	}, s.handleInbound)
	if err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSweep = stopSweep
	go s.sweep(sweepCtx)
	if s.cfg.SeqFloorInterval <= 0 {
		s.cfg.SeqFloorInterval = time.Second
	}
	s.floorsDone = make(chan struct{})
	go func() {
		defer close(s.floorsDone)
		s.cat.KeepFloors(sweepCtx, s.tw.Floors(), s.cfg.SeqFloorInterval, s.log)
	}()
	go s.records.follow(sweepCtx, s.bus)
	if err := s.startJobs(ctx); err != nil {
		return err
	}
	s.log.Info("session service consuming", "partitions", s.cfg.Partitions)
	return nil
}

// Stop stops consuming and waits for in-flight messages to be acked.
func (s *Service) Stop() {
	if s.stopJobs != nil {
		s.stopJobs() // hands unfinished runs over while the consumers still run
	}
	if s.create != nil {
		_ = s.create.Drain()
	}
	if s.parts != nil {
		s.parts.Stop()
	}
	if s.stopSweep != nil {
		s.stopSweep()
		<-s.floorsDone // the last floors are written after the last append
	}
}

// Ready reports whether the replica can work.
func (s *Service) Ready() error { return bus.ConsumerReady(s.bus, s.parts) }

type metrics struct {
	handled  *prometheus.CounterVec
	failed   *prometheus.CounterVec
	latency  prometheus.Histogram
	appended prometheus.Counter
	creates  *prometheus.CounterVec

	quotaRefused prometheus.Counter
	// turns.go: turn.completed frames naming a turn that was not running.
	staleCompletions prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		handled:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_session_messages_total", Help: "Inbound envelopes handled, by type."}, []string{"type"}),
		failed:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_session_failures_total", Help: "Inbound envelopes whose handling failed and will be redelivered, by type."}, []string{"type"}),
		latency:      prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_session_handle_seconds", Help: "Time to handle one inbound envelope.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		appended:     prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_session_transcript_appends_total", Help: "Messages appended to transcripts."}),
		creates:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_session_creates_total", Help: "Session create requests, by HTTP status answered."}, []string{"status"}),
		quotaRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_session_quota_refusals_total", Help: "user.message frames refused with quota_exceeded."}),
	}
	m.staleCompletions = prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_session_stale_turn_completions_total", Help: "turn.completed frames ignored because in_response_to named a turn that was not running."})
	reg.MustRegister(m.handled, m.failed, m.latency, m.appended, m.creates, m.quotaRefused, m.staleCompletions)
	return m
}
