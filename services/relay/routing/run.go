package routing

import (
	"context"

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
	svc, err := New(cfg, d.Bus, d.Redis, d.Tel)
	if err != nil {
		return err
	}
	return process.Serve(ctx, d, svc, cfg.HTTPListen, o)
}
