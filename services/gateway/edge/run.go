package edge

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run runs one gateway with the given rooms (dialects, REST, files) until
// ctx ends, then drains it (see Shutdown). started, when not nil, is
// called once the gateway listens.
func Run(ctx context.Context, cfg Config, o process.Options, started func(*Server), rooms ...Room) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	d, err := process.Connect(ctx, "switchyard-gateway", &cfg.Common, o)
	if err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	if err := d.Bus.WaitReady(ctx); err != nil {
		return err
	}
	s, err := New(cfg, d.Bus, d.Redis, d.Tel)
	if err != nil {
		return err
	}
	for _, room := range rooms {
		if err := room(s); err != nil {
			return err
		}
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	if started != nil {
		started(s)
	}
	<-ctx.Done()
	return s.Shutdown(context.WithoutCancel(ctx))
}
