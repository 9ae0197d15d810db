// Package process wires what every Switchyard service process needs:
// telemetry, the NATS bus, Redis, and signal handling.
package process

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/health"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
)

// Options adjust Connect for tests and the dev stack.
type Options struct {
	// Exporter receives spans in addition to OTLP (tests).
	Exporter sdktrace.SpanExporter
	// Registry for metrics; a new one when nil.
	Registry *prometheus.Registry
	// NoRedis skips the Redis client (services that do not use it).
	NoRedis bool
	// Started, when set, is called once the service serves.
	Started func()
	// LogOutput receives the service's logs; os.Stderr when nil (tests).
	LogOutput io.Writer
}

// NotifyStarted calls o.Started if set.
func (o Options) NotifyStarted() {
	if o.Started != nil {
		o.Started()
	}
}

// Deps are a service's connections.
type Deps struct {
	Tel   *telemetry.Telemetry
	Bus   *bus.Bus
	Redis redis.UniversalClient

	service   string // "switchyard-session", …
	stopWatch context.CancelFunc
}

// Connect sets up telemetry and connects to NATS (and Redis). It waits for
// NATS, retrying with backoff and logging each attempt (see ConnectNATS);
// Redis is probed in the background (WatchRedis). Both clients reconnect
// by themselves when their server comes back. go-redis's own log lines go
// through the service's slog logger.
func Connect(ctx context.Context, service string, c *config.Common, o Options) (*Deps, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// Before the first name reaches NATS or Redis (validated above).
	if err := namespace.Set(c.Namespace); err != nil {
		return nil, err
	}
	pod := c.PodName()
	c.Pod = pod
	tel, err := telemetry.Setup(ctx, telemetry.Options{
		Service: service, Pod: pod, OTLPEndpoint: c.OTLPEndpoint, Exporter: o.Exporter,
		LogLevel: c.LogLevel, LogFormat: c.LogFormat, Registry: o.Registry, LogOutput: o.LogOutput,
	})
	if err != nil {
		return nil, err
	}
	redis.SetLogger(RedisLogger{Log: tel.Log})
	b, err := ConnectNATS(ctx, c, service+"/"+pod, tel.Log)
	if err != nil {
		return nil, err
	}
	d := &Deps{Tel: tel, Bus: b, service: service, stopWatch: func() {}}
	natsMetrics(tel.Registry, b.NC)
	if !o.NoRedis {
		if d.Redis, err = Redis(c); err != nil {
			b.Close()
			return nil, err
		}
		wctx, cancel := context.WithCancel(ctx)
		d.stopWatch = cancel
		go func() { _ = WatchRedis(wctx, d.Redis, RedisTarget(c), tel.Log) }()
		go redisHealth(tel.Registry, d.Redis, redisProbeEvery)(wctx)
	}
	return d, nil
}

// Close flushes telemetry and closes the connections.
func (d *Deps) Close(ctx context.Context) {
	d.stopWatch()
	d.Bus.Close()
	if d.Redis != nil {
		_ = d.Redis.Close()
	}
	_ = d.Tel.Shutdown(ctx)
}

// SignalContext is cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Worker is a back-end service replica (session, relay): it consumes the
// bus between Start and Stop.
type Worker interface {
	Start(ctx context.Context) error
	Stop()
	Ready() error
}

// Serve runs a worker until ctx ends: bind healthAddr first (a port in use
// is reported before anything is consumed), wait for JetStream, start,
// report ready, then on ctx's end stop consuming (the in-flight message
// finishes and is acked) and return. /readyz fails until the worker runs.
func Serve(ctx context.Context, d *Deps, w Worker, healthAddr string, o Options) error {
	ln, err := Listen("health and metrics address", healthAddr)
	if err != nil {
		return err
	}
	var started atomic.Bool
	ready := func() error {
		if !started.Load() {
			return errors.New("starting")
		}
		return w.Ready()
	}
	mux := http.NewServeMux()
	health.Handlers(mux, ready, d.Tel.MetricsHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Tel.Log.Error("health server stopped", "err", err)
		}
	}()
	defer func() { _ = hs.Shutdown(context.WithoutCancel(ctx)) }()
	if err := d.Bus.WaitReady(ctx); err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	started.Store(true)
	// The service's partition consumers (session-owned-p*, relay-owned-p*):
	// pending and redelivered, polled (docs/metrics.md).
	d.Bus.WatchConsumers(ctx, d.Tel.Registry, d.Tel.Log, bus.ConsumerStatsEvery,
		bus.PartitionConsumerPrefix(strings.TrimPrefix(d.service, "switchyard-")), bus.StreamInbound(), bus.StreamRuntime())
	d.Tel.Log.Info("ready", "health", ln.Addr().String())
	o.NotifyStarted()
	<-ctx.Done()
	d.Tel.Log.Info("stopping")
	w.Stop()
	return nil
}
