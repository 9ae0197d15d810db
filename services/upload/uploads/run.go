package uploads

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run connects, serves until ctx ends, then stops (requests in hand are
// answered first).
func Run(ctx context.Context, cfg Config, o process.Options) error {
	o.NoRedis = true
	d, err := process.Connect(ctx, "switchyard-upload", &cfg.Common, o)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	return process.Serve(ctx, d, New(cfg, d.Bus, d.Tel), cfg.HTTPListen, o)
}
