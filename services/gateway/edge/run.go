package edge

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Run runs one gateway with the given rooms (dialects, REST, files) until
// ctx ends, then drains it (see Shutdown). started, when not nil, is
// called once the gateway listens. The listeners are bound first: a port
// in use (or any bad address) ends Run with an error naming its setting
// before anything is written to Redis or consumed from NATS.
func Run(ctx context.Context, cfg Config, o process.Options, started func(*Server), rooms ...Room) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	lns, err := Bind(&cfg)
	if err != nil {
		return err
	}
	d, err := process.Connect(ctx, "switchyard-gateway", &cfg.Common, o)
	if err != nil {
		closeListeners(lns)
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	d.Tel.SetOutputRatio(cfg.TraceOutputRatio)
	if err := d.Bus.WaitReady(ctx); err != nil {
		closeListeners(lns)
		return err
	}
	s, err := New(cfg, d.Bus, d.Redis, d.Tel)
	if err != nil {
		closeListeners(lns)
		return err
	}
	s.UseListeners(lns)
	for _, room := range rooms {
		if err := room(s); err != nil {
			closeListeners(lns)
			return err
		}
	}
	if err := s.Start(ctx); err != nil {
		closeListeners(lns)
		return err
	}
	if started != nil {
		started(s)
	}
	<-ctx.Done()
	return s.Shutdown(context.WithoutCancel(ctx))
}

func closeListeners(l Listeners) {
	_ = l.Public.Close()
	if l.Internal != nil {
		_ = l.Internal.Close()
	}
}
