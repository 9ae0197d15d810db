package amurg

// Config overrides re-sent after a hello. No admin waits for their acks:
// the socket remembers which endpoints it sent one for, and the ack that
// answers it goes to the relay (bus.SubjRelayConfigResult()), which records
// whether the runtime accepted or refused it and may name the accepted
// override to send next (services/relay/routing overrides.go).

import (
	"context"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// sendHelloConfig sends a stored override and remembers it awaits an ack.
func sendHelloConfig(c *edge.Conn, cfg *syv1.EndpointConfigUpdate) {
	st := stateOf(c)
	st.mu.Lock()
	if st.helloConfigs == nil {
		st.helloConfigs = map[string]bool{}
	}
	st.helloConfigs[cfg.GetEndpointId()] = true
	st.mu.Unlock()
	send(c, &syv1.Envelope{Type: codec.TypeEndpointConfigUpdate, Ts: clock.Stamp(time.Now()), EndpointId: cfg.GetEndpointId(),
		Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: cfg}})
}

// takeHelloConfig says whether an ack for endpoint id answers an override
// sent after the hello (and forgets it).
func takeHelloConfig(c *edge.Conn, id string) bool {
	st := stateOf(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.helloConfigs[id] {
		return false
	}
	delete(st.helloConfigs, id)
	return true
}

// helloConfigResult hands the ack of a re-sent override to the relay and
// sends what it names next.
func (d *Dialect) helloConfigResult(ctx context.Context, c *edge.Conn, env *syv1.Envelope) {
	rctx, cancel := d.requestCtx(ctx)
	defer cancel()
	reply, err := d.s.Bus().Request(rctx, bus.SubjRelayConfigResult(), env)
	if err != nil {
		d.s.Log().WarnContext(ctx, "config ack after hello not recorded", "endpoint", env.GetEndpointId(), "err", err)
		return
	}
	if next := reply.GetEndpointConfigUpdate(); next != nil {
		sendHelloConfig(c, next)
	}
}
