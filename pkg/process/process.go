// Package process wires what every Switchyard service process needs:
// telemetry, the NATS bus, Redis, and signal handling.
package process

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/health"
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
	Redis *redis.Client
}

// Connect sets up telemetry and connects to NATS (and Redis). Both clients
// reconnect by themselves when their server comes back.
func Connect(ctx context.Context, service string, c *config.Common, o Options) (*Deps, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pod := c.PodName()
	c.Pod = pod
	tel, err := telemetry.Setup(ctx, telemetry.Options{
		Service: service, Pod: pod, OTLPEndpoint: c.OTLPEndpoint, Exporter: o.Exporter,
		LogLevel: c.LogLevel, LogFormat: c.LogFormat, Registry: o.Registry,
	})
	if err != nil {
		return nil, err
	}
	b, err := bus.Connect(ctx, c.NATSURL, service+"/"+pod, tel.Log)
	if err != nil {
		return nil, err
	}
	d := &Deps{Tel: tel, Bus: b}
	if !o.NoRedis {
		if d.Redis, err = Redis(c.RedisURL); err != nil {
			b.Close()
			return nil, err
		}
	}
	return d, nil
}

// Close flushes telemetry and closes the connections.
func (d *Deps) Close(ctx context.Context) {
	d.Bus.Close()
	if d.Redis != nil {
		_ = d.Redis.Close()
	}
	_ = d.Tel.Shutdown(ctx)
}

// Redis opens a client for a redis:// URL with short timeouts, so an
// outage shows up as errors instead of hangs.
func Redis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("process: redis url: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 2 * time.Second
	opts.WriteTimeout = 2 * time.Second
	opts.MaxRetries = 2
	return redis.NewClient(opts), nil
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

// Serve runs a worker until ctx ends: wait for JetStream, start, serve
// health and metrics on healthAddr, then on ctx's end stop consuming (the
// in-flight message finishes and is acked) and return.
func Serve(ctx context.Context, d *Deps, w Worker, healthAddr string, o Options) error {
	if err := d.Bus.WaitReady(ctx); err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	hs, err := health.Listen(healthAddr, w.Ready, d.Tel.MetricsHandler(), d.Tel.Log)
	if err != nil {
		w.Stop()
		return err
	}
	d.Tel.Log.Info("ready", "health", hs.Addr())
	o.NotifyStarted()
	<-ctx.Done()
	d.Tel.Log.Info("stopping")
	w.Stop()
	return hs.Close(context.WithoutCancel(ctx))
}
