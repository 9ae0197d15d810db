package sessions

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/health"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run runs one session-service replica until ctx ends, then stops
// consuming, lets in-flight messages finish and exits.
func Run(ctx context.Context, cfg Config, o process.Options) error {
	o.NoRedis = true
	d, err := process.Connect(ctx, "switchyard-session", &cfg.Common, o)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	if err := d.Bus.WaitReady(ctx); err != nil {
		return err
	}
	svc := New(cfg, d.Bus, d.Tel)
	if err := svc.Start(ctx); err != nil {
		return err
	}
	hs, err := health.Listen(cfg.HTTPListen, svc.Ready, d.Tel.MetricsHandler(), d.Tel.Log)
	if err != nil {
		svc.Stop()
		return err
	}
	d.Tel.Log.Info("session service ready", "health", hs.Addr())
	o.NotifyStarted()
	<-ctx.Done()
	d.Tel.Log.Info("session service stopping")
	svc.Stop()
	return hs.Close(context.WithoutCancel(ctx))
}
