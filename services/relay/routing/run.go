package routing

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/health"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run runs one relay replica until ctx ends, then stops consuming, lets
// in-flight commands finish and exits.
func Run(ctx context.Context, cfg Config, o process.Options) error {
	d, err := process.Connect(ctx, "switchyard-relay", &cfg.Common, o)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	if err := d.Bus.WaitReady(ctx); err != nil {
		return err
	}
	svc, err := New(cfg, d.Bus, d.Redis, d.Tel)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	hs, err := health.Listen(cfg.HTTPListen, svc.Ready, d.Tel.MetricsHandler(), d.Tel.Log)
	if err != nil {
		svc.Stop()
		return err
	}
	d.Tel.Log.Info("relay service ready", "health", hs.Addr())
	o.NotifyStarted()
	<-ctx.Done()
	d.Tel.Log.Info("relay service stopping")
	svc.Stop()
	return hs.Close(context.WithoutCancel(ctx))
}
