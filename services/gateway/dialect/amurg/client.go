package amurg

import (
	"context"
	"errors"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// clientFrame handles one /ws/client frame. client.subscribe (a replay)
// runs off the read loop; client.unsubscribe stays in order behind it.
func (d *Dialect) clientFrame(c *edge.Conn, f edge.Frame) {
	if !stateOf(c).authOK {
		return
	}
	env := decode(c, f)
	if env == nil {
		return
	}
	switch env.GetType() {
	case codec.TypePing:
		pong(c)
	case codec.TypePong:
	case codec.TypeSubscribe:
		c.Do(func(ctx context.Context) { d.subscribe(ctx, c, env) })
	case codec.TypeUnsubscribe:
		c.Serial(func(ctx context.Context) { unsubscribe(ctx, c, env.GetSessionId()) })
	default:
		c.Ingest(env)
	}
}

// subscribe checks that the user may see the session, then replays the
// transcript after after_seq and follows it live.
func (d *Dialect) subscribe(ctx context.Context, c *edge.Conn, env *syv1.Envelope) {
	session := env.GetSessionId()
	info, _, err := d.s.Catalog().Session(ctx, session)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		c.SendError(session, errcode.SessionNotFound, "no session "+session)
		return
	case err != nil:
		c.SendError(session, errcode.Unavailable, "session lookup failed; retry")
		return
	case info.GetUserId() != c.Principal():
		c.SendError(session, errcode.Forbidden, "session "+session+" belongs to another user")
		return
	}
	err = c.Follow(ctx, session, env.GetSubscribe().GetAfterSeq(), func(ctx context.Context, p edge.Page) error {
		return d.sendHistory(ctx, c, p)
	})
	if err != nil && ctx.Err() == nil {
		d.s.Log().WarnContext(ctx, "subscribe failed", "session", session, "err", err)
		c.SendError(session, errcode.Unavailable, "history could not be read; subscribe again")
	}
}

// sendHistory sends one history.response; the last page carries the
// session's unanswered permission requests.
func (d *Dialect) sendHistory(ctx context.Context, c *edge.Conn, p edge.Page) error {
	hr := &syv1.HistoryResponse{SessionId: p.Session, AfterSeq: p.After, LastSeq: p.Last, HasMore: p.HasMore, Messages: p.Messages,
		FirstSeq: p.FirstSeq, Trimmed: p.Trimmed}
	if !p.HasMore {
		var err error
		if hr.PendingPermissions, err = d.pendingPermissions(ctx, p.Session); err != nil {
			return err
		}
	}
	return c.SendEnvelope(&syv1.Envelope{Type: codec.TypeHistoryResponse, SessionId: p.Session, Ts: clock.Stamp(time.Now()),
		Body: &syv1.Envelope_HistoryResponse{HistoryResponse: hr}})
}

// pendingPermissions are the session's unanswered permission requests, as
// the permission.request frames a reconnecting client may have missed.
func (d *Dialect) pendingPermissions(ctx context.Context, session string) ([]*syv1.Envelope, error) {
	recs, err := d.s.Catalog().PendingPermissions(ctx, session)
	if err != nil {
		return nil, err
	}
	out := make([]*syv1.Envelope, 0, len(recs))
	for _, r := range recs {
		out = append(out, &syv1.Envelope{Type: kind.PermissionRequest, SessionId: session, Seq: r.GetSeq(),
			Body: &syv1.Envelope_PermissionRequest{PermissionRequest: r.GetRequest()}})
	}
	return out, nil
}

func unsubscribe(ctx context.Context, c *edge.Conn, session string) {
	if !c.Unfollow(ctx, session) {
		c.SendError(session, errcode.NotSubscribed, "this socket does not follow session "+session)
	}
}
