package amurg

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// runtimeFrame handles one /ws/runtime frame: runtime.hello first (checked
// with the relay off the read loop), then the runtime's events, in order
// behind it. Pings are answered at once.
func (d *Dialect) runtimeFrame(c *edge.Conn, f edge.Frame) {
	env := decode(c, f)
	if env == nil {
		return
	}
	switch env.GetType() {
	case codec.TypePing:
		pong(c)
		return
	case codec.TypePong:
		return
	case codec.TypeRuntimeHello:
		c.Do(func(ctx context.Context) { d.hello(ctx, c, env) })
		return
	}
	// Decided when the work runs, after any hello queued before it.
	work := func(ctx context.Context) {
		if c.Principal() == "" {
			c.SendError("", errcode.AuthFailed, "the first frame on /ws/runtime must be runtime.hello")
			c.Close(edge.ReasonAuthFailed, "")
			return
		}
		switch env.GetType() {
		case codec.TypeEndpointConfigAck:
			d.configAck(ctx, c, env)
		default:
			c.Ingest(env) // file.available: the files room stores the bytes first
		}
	}
	switch env.GetType() {
	case codec.TypeFileAvailable, codec.TypeEndpointConfigAck:
		c.Do(work) // object store, catalog: off the read loop
	default:
		c.Serial(work)
	}
}

// hello checks the runtime's token with the relay and claims the runtime
// for this socket.
func (d *Dialect) hello(ctx context.Context, c *edge.Conn, env *syv1.Envelope) {
	if c.Principal() != "" {
		c.SendError("", errcode.UnsupportedType, "runtime.hello was already accepted on this socket")
		return
	}
	ctx, span := d.s.Tracer().Start(ctx, "gateway.hello", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	rctx, cancel := d.requestCtx(ctx)
	defer cancel()
	if by := c.AuthDeadline(); !by.IsZero() {
		// Answer a slow check with unavailable (1013) before the core's
		// auth deadline closes the socket (1008).
		var cancelBy context.CancelFunc
		rctx, cancelBy = context.WithDeadline(rctx, by.Add(-helloMargin))
		defer cancelBy()
	}
	rid := env.GetRuntimeHello().GetRuntimeId()
	reply, err := d.s.Bus().Request(rctx, bus.SubjRelayHello(), env)
	ack := reply.GetHelloAck()
	if err != nil || ack == nil {
		if ctx.Err() != nil {
			return // the socket ended while waiting
		}
		d.s.Log().WarnContext(ctx, "runtime hello not checked", "runtime", rid, "err", err)
		refuse(c, &syv1.HelloAck{Ok: false, Code: errcode.Unavailable, Error: "unavailable: the hub cannot check runtime tokens now; reconnect later"})
		return
	}
	if !ack.GetOk() {
		refuse(c, ack)
		return
	}
	if err := c.ClaimRuntime(ctx, rid); errors.Is(err, edge.ErrTooManySockets) {
		d.s.Log().WarnContext(ctx, "runtime hello refused: too many sockets", "runtime", rid, "conn", c.ID())
		sendHelloAck(c, &syv1.HelloAck{Ok: false, Code: errcode.TooManySockets, Error: c.TooManySocketsText()})
		c.Close(edge.ReasonTooManySockets, "")
		return
	} else if err != nil {
		d.s.Log().WarnContext(ctx, "runtime ownership not recorded", "runtime", rid, "err", err)
		refuse(c, &syv1.HelloAck{Ok: false, Code: errcode.Unavailable, Error: "unavailable: ownership store unreachable; reconnect later"})
		return
	}
	rev := env.GetRuntimeHello().GetRevision()
	st := stateOf(c)
	st.mu.Lock()
	st.revision = rev
	st.mu.Unlock()
	d.s.Log().InfoContext(ctx, "runtime online", "runtime", rid, "conn", c.ID(), "endpoints", len(env.GetRuntimeHello().GetEndpoints()),
		"revision", revisionName(rev), "warnings", ack.GetWarnings())
	sendHelloAck(c, ack)
	c.AnnounceRuntime(ctx, true)
	// Stored config overrides, then the hub-issued token and its refreshes.
	d.afterHello(c, rid, env.GetRuntimeHello().GetToken(), ack)
}

// helloMargin is how long before the auth deadline a hello still being
// checked is answered unavailable.
const helloMargin = 250 * time.Millisecond

// refuse answers a refused hello and closes: 1013 when the hub could not
// check (retry later), else 1008.
func refuse(c *edge.Conn, ack *syv1.HelloAck) {
	sendHelloAck(c, ack)
	c.Close(helloCloseReason(ack), "")
}

// helloCloseReason maps a refused hello.ack to the socket's close reason
// by its error code (HelloAck.code): unavailable means retry later (1013),
// anything else is a refusal (1008). A relay that sets no code (older
// releases) is read by the prefix of its error text.
func helloCloseReason(ack *syv1.HelloAck) edge.CloseReason {
	code := ack.GetCode()
	if code == "" && strings.HasPrefix(ack.GetError(), errcode.Unavailable) {
		code = errcode.Unavailable
	}
	if code == errcode.Unavailable {
		return edge.ReasonUnavailable
	}
	return edge.ReasonAuthFailed
}

func sendHelloAck(c *edge.Conn, ack *syv1.HelloAck) {
	send(c, &syv1.Envelope{Type: codec.TypeHelloAck, Ts: clock.Stamp(time.Now()), Body: &syv1.Envelope_HelloAck{HelloAck: ack}})
}

// configAck hands a runtime's endpoint.config_ack to the relay replica
// waiting for it, if the endpoint is this runtime's.
func (d *Dialect) configAck(ctx context.Context, c *edge.Conn, env *syv1.Envelope) {
	id := env.GetEndpointConfigAck().GetEndpointId()
	rec, err := d.s.Catalog().Endpoint(ctx, id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		c.SendError("", errcode.EndpointUnknown, "no endpoint "+id)
		return
	case err != nil:
		c.SendError("", errcode.Unavailable, "the hub could not accept this endpoint.config_ack; retry")
		return
	case rec.GetRuntimeId() != c.Principal():
		c.SendError("", errcode.Forbidden, "endpoint "+id+" belongs to another runtime")
		return
	}
	env.RuntimeId, env.EndpointId = c.Principal(), id
	env.Origin = c.Route()
	if takeHelloConfig(c, id) {
		d.helloConfigResult(ctx, c, env)
		return
	}
	if err := d.s.Bus().Send(ctx, bus.ConfigAckSubject(id), env); err != nil {
		d.s.Log().WarnContext(ctx, "config ack not forwarded", "endpoint", id, "err", err)
		c.SendError("", errcode.Unavailable, "the hub could not accept this endpoint.config_ack; retry")
	}
}

// revisionName names a hello's protocol revision ("" is the document's).
func revisionName(rev string) string {
	if rev == "" {
		return codec.RevisionEndpoints
	}
	return rev
}
