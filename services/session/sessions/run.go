package sessions

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run runs one session-service replica until ctx ends, then stops
// consuming, lets in-flight messages finish and exits.
func Run(ctx context.Context, cfg Config, o process.Options) error {
	d, err := process.Connect(ctx, "switchyard-session", &cfg.Common, o)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	svc := New(cfg, d.Bus, d.Tel)
	svc.UsePresence(ownership.Lookup{RDB: d.Redis}) // runtimes whose gateway died (presence.go)
	return process.Serve(ctx, d, svc, cfg.HTTPListen, o)
}
