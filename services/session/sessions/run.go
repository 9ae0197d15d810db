package sessions

import (
	"context"

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
	return process.Serve(ctx, d, New(cfg, d.Bus, d.Tel), cfg.HTTPListen, o)
}
