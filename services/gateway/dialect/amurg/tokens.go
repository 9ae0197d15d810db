package amurg

// The per-socket refresh of hub-issued runtime tokens. Tokens are never
// logged; a socket's current token is kept only as its SHA-256 digest, in
// the refresh goroutine of that socket.

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// afterHello runs once a runtime's hello is accepted and hello.ack queued:
// it re-sends the stored config overrides of its endpoints, then keeps a
// hub-issued token on the socket (issuing one at once when the runtime
// used a pre-shared token) and refreshes it before it expires.
func (d *Dialect) afterHello(c *edge.Conn, rid, token string, ack *syv1.HelloAck) {
	for _, cfg := range ack.GetConfigs() {
		sendHelloConfig(c, cfg)
	}
	var expires time.Time // zero: a pre-shared token, replace it now
	if e := ack.GetTokenExpiresAt(); e != "" {
		var err error
		if expires, err = time.Parse(time.RFC3339Nano, e); err != nil {
			d.s.Log().Warn("runtime token expiry unreadable; refreshing now", "runtime", rid, "err", err)
			expires = time.Now()
		}
	}
	go d.keepTokenFresh(c, rid, auth.Digest(token), expires)
}

// refreshDelay is how long before refreshing a token with this much life
// left: until before ahead of expiry, or at 80% of the remaining life
// when that is shorter than before.
func refreshDelay(remaining, before time.Duration) time.Duration {
	switch {
	case remaining <= 0:
		return 0
	case remaining > before:
		return remaining - before
	}
	return remaining * 8 / 10
}

// keepTokenFresh refreshes the socket's token until the socket ends. Only
// the token's digest is held; the new token goes straight to the socket.
func (d *Dialect) keepTokenFresh(c *edge.Conn, rid, digest string, expires time.Time) {
	backoff := time.Second
	next := time.Now()
	if !expires.IsZero() {
		next = next.Add(refreshDelay(time.Until(expires), d.s.Config().TokenRefreshBefore))
	}
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-c.Done():
			t.Stop()
			return
		case <-t.C:
		}
		tok, exp, code, err := d.refreshToken(rid, digest)
		switch {
		case err == nil:
			send(c, &syv1.Envelope{Type: codec.TypeTokenRefresh, Ts: clock.Stamp(time.Now()),
				Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: tok, ExpiresAt: clock.Stamp(exp)}}})
			digest, backoff = auth.Digest(tok), time.Second
			next = time.Now().Add(refreshDelay(time.Until(exp), d.s.Config().TokenRefreshBefore))
			d.s.Log().Debug("runtime token refreshed", "runtime", rid, "conn", c.ID(), "expires_at", clock.Stamp(exp))
		case code == errcode.AuthFailed:
			d.s.Log().Warn("runtime token no longer valid; closing its socket", "runtime", rid, "conn", c.ID(), "reason", err)
			c.SendError("", errcode.AuthFailed, "runtime token no longer valid: "+err.Error())
			c.Close(edge.ReasonAuthFailed, "")
			return
		default:
			d.s.Log().Warn("runtime token not refreshed; retrying", "runtime", rid, "conn", c.ID(), "in", backoff, "err", err)
			next = time.Now().Add(backoff)
			backoff = min(2*backoff, time.Minute)
		}
	}
}

// refreshToken asks the relay for a new token in exchange for the one with
// this digest. code is the relay's error code when it refused.
func (d *Dialect) refreshToken(rid, digest string) (token string, expires time.Time, code string, err error) {
	ctx, span := d.s.Tracer().Start(context.Background(), "gateway.token_refresh", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("sy.runtime_id", rid)))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, d.s.Config().RequestTimeout)
	defer cancel()
	req := &syv1.Envelope{Type: codec.TypeTokenRefresh, RuntimeId: rid,
		Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: digest}}}
	reply, err := d.s.Bus().Request(ctx, bus.SubjRelayRefresh(), req)
	if err != nil {
		return "", time.Time{}, "", err
	}
	if e := reply.GetError(); e != nil {
		return "", time.Time{}, e.GetCode(), errors.New(e.GetMessage())
	}
	tr := reply.GetTokenRefresh()
	if expires, err = time.Parse(time.RFC3339Nano, tr.GetExpiresAt()); err != nil || tr.GetToken() == "" {
		return "", time.Time{}, "", errors.New("the relay answered without a token")
	}
	return tr.GetToken(), expires, "", nil
}
