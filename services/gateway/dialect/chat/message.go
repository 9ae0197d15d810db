package chat

import (
	"context"
	"errors"

	"github.com/nats-io/nuid"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/chat"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/files"
)

// message handles one decoded, validated chat message: pick the endpoint,
// check a runtime is online, bind the session, store the attachments,
// then hand file.upload frames and the user.message to the session
// service. Every refusal comes before anything is sent on: nothing is
// half processed.
func (d *Dialect) message(ctx context.Context, c *edge.Conn, m *codec.Message) {
	if err := d.handle(ctx, c, m); err != nil {
		var f *failure
		switch {
		case errors.As(err, &f):
			sendError(c, f.code, f.message)
		case ctx.Err() != nil:
		default:
			d.s.Log().WarnContext(ctx, "chat message not handled", "conn", c.ID(), "err", err)
			sendError(c, errcode.Unavailable, "the hub could not accept this message; retry")
		}
	}
}

func (d *Dialect) handle(ctx context.Context, c *edge.Conn, m *codec.Message) error {
	endpoint, err := d.endpoint(ctx, c.Principal(), m.ChannelID)
	if err != nil {
		return refuse(errcode.Unavailable, "endpoints could not be read; retry")
	}
	if endpoint == "" {
		return refuse(errcode.EndpointUnknown, "no agent endpoint is configured for channel %q (set SY_CHAT_DEFAULT_ENDPOINT or SY_CHAT_ENDPOINTS)", m.ChannelID)
	}
	if err := d.online(ctx, endpoint); err != nil {
		return err
	}
	info, err := d.bind(ctx, c, m.ChannelID, m.ChannelSessionKey, endpoint)
	if err != nil {
		return err
	}
	sid := info.GetId()
	uploads, err := d.store(ctx, c, sid, m.Attachments)
	if err != nil {
		return err
	}
	for _, up := range uploads {
		if err := d.publish(ctx, c, up); err != nil {
			return refuse(errcode.Unavailable, "the hub could not accept this message; retry")
		}
	}
	msgID := nuid.Next()
	env := &syv1.Envelope{Id: "msg-" + msgID, Type: kind.UserMessage, SessionId: sid, Ts: now(),
		Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{SessionId: sid, MessageId: msgID, Content: m.Text,
			FollowupMode: d.cfg.mode(info.GetEndpointId())}}}
	if err := d.publish(ctx, c, env); err != nil {
		return refuse(errcode.Unavailable, "the hub could not accept this message; retry")
	}
	return nil
}

// online refuses an endpoint whose runtime has no live socket.
func (d *Dialect) online(ctx context.Context, endpoint string) error {
	rec, err := d.s.Catalog().Endpoint(ctx, endpoint)
	if errors.Is(err, catalog.ErrNotFound) {
		return refuse(errcode.RuntimeOffline, "no runtime online for endpoint %s (it never connected)", endpoint)
	}
	if err != nil {
		return refuse(errcode.Unavailable, "endpoints could not be read; retry")
	}
	up, err := d.s.Owners().RuntimesOnline(ctx, []string{rec.GetRuntimeId()})
	if err != nil {
		return refuse(errcode.Unavailable, "runtime presence could not be read; retry")
	}
	if !up[rec.GetRuntimeId()] {
		return refuse(errcode.RuntimeOffline, "no runtime online for endpoint %s", endpoint)
	}
	return nil
}

// store keeps the attachments as POST /files does and returns their
// file.upload envelopes; if one cannot be stored, those stored are removed.
func (d *Dialect) store(ctx context.Context, c *edge.Conn, sid string, atts []codec.Attachment) ([]*syv1.Envelope, error) {
	out := make([]*syv1.Envelope, 0, len(atts))
	for _, a := range atts {
		md, err := files.Store(ctx, d.s, sid, c.Principal(), codec.BaseName(a.FileName), a.MimeType, a.Data)
		if err != nil {
			for _, up := range out {
				_ = files.Remove(context.WithoutCancel(ctx), d.s, up.GetFile().GetMetadata().GetFileId())
			}
			d.s.Log().WarnContext(ctx, "chat attachment not stored", "session", sid, "err", err)
			return nil, refuse(errcode.Unavailable, "attachment %q could not be stored; retry", a.FileName)
		}
		out = append(out, &syv1.Envelope{Id: "file-" + md.GetFileId(), Type: kind.FileUpload, SessionId: sid, Ts: now(),
			Body: &syv1.Envelope_File{File: &syv1.FileTransfer{SessionId: sid, Metadata: md}}})
	}
	return out, nil
}

// publish hands an envelope from the socket to the session service and
// waits for the JetStream ack (Conn.Ingest, with the error returned).
func (d *Dialect) publish(ctx context.Context, c *edge.Conn, env *syv1.Envelope) error {
	env.Origin, env.UserId = c.Route(), c.Principal()
	_, err := d.s.Bus().Publish(ctx, bus.InboundSubject(d.s.Config().Partitions, env.GetSessionId()), env)
	return err
}
