package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// BucketKeys maps (user, channel_session_key) → session id:
// key k.<sha256(user) hex>.<sha256(channel_session_key) hex>. Written with
// KV create (and update at the read revision when the session it named was
// closed), so two gateways that see a new key at once agree on one session.
func BucketKeys() string { return namespace.Stream("sy_chat_keys") }

// maxResume bounds the running streams a connecting socket resumes.
const maxResume = 16

func ensureKeys(ctx context.Context, s *edge.Server) (jetstream.KeyValue, error) {
	kv, err := bus.EnsureKV(ctx, s.Bus().JS, jetstream.KeyValueConfig{
		Bucket: BucketKeys(), Description: "chat: (user, channel_session_key) → session id",
		History: 1, Replicas: max(s.Config().StreamReplicas, 1), Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("chat: ensure bucket %s: %w", BucketKeys(), err)
	}
	return kv, nil
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func keyOf(user, key string) string { return "k." + digest(user) + "." + digest(key) }

// failure is a refusal the client gets as an error frame.
type failure struct{ code, message string }

func (f *failure) Error() string { return f.code + ": " + f.message }

func refuse(code, format string, a ...any) error {
	return &failure{code: code, message: fmt.Sprintf(format, a...)}
}

// bind finds (or creates) the session of a message and makes the socket
// follow it. With a key: the key's session for this user, on any gateway;
// a closed one is replaced. Without: one session per channel_id for this
// connection.
func (d *Dialect) bind(ctx context.Context, c *edge.Conn, channel, key, endpoint string) (*syv1.SessionInfo, error) {
	st := stateOf(c)
	st.mu.Lock()
	sid := st.channels[channel]
	if key != "" {
		sid = st.keys[key]
	}
	st.mu.Unlock()
	var info *syv1.SessionInfo
	var err error
	if sid != "" {
		info, err = d.usable(ctx, c, sid)
	}
	if err != nil {
		return nil, err
	}
	if info == nil && key != "" {
		info, err = d.byKey(ctx, c, key, endpoint)
	} else if info == nil {
		info, err = d.create(ctx, c, endpoint)
	}
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	if key != "" {
		st.keys[key] = info.GetId()
	} else {
		st.channels[channel] = info.GetId()
	}
	st.mu.Unlock()
	return info, d.follow(ctx, c, info)
}

// usable is the session's record if it is the user's and active; nil if
// it cannot be continued (closed, gone).
func (d *Dialect) usable(ctx context.Context, c *edge.Conn, sid string) (*syv1.SessionInfo, error) {
	info, _, err := d.s.Catalog().Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, refuse(errcode.Unavailable, "the session could not be read; retry")
	case info.GetUserId() != c.Principal() || info.GetStatus() != catalog.StatusActive:
		return nil, nil
	}
	return info, nil
}

// byKey resolves a channel_session_key: the mapped session when it can be
// continued, else a new session stored with a compare-and-set. The loser
// of a race closes the session it made and takes the winner's.
func (d *Dialect) byKey(ctx context.Context, c *edge.Conn, key, endpoint string) (*syv1.SessionInfo, error) {
	k := keyOf(c.Principal(), key)
	for attempt := 0; attempt < 4; attempt++ {
		var rev uint64
		e, err := d.keys.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, refuse(errcode.Unavailable, "the session key could not be read; retry")
		default:
			rev = e.Revision()
			info, err := d.usable(ctx, c, string(e.Value()))
			if err != nil || info != nil {
				return info, err
			}
		}
		info, err := d.create(ctx, c, endpoint)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			_, err = d.keys.Create(ctx, k, []byte(info.GetId()))
		} else {
			_, err = d.keys.Update(ctx, k, []byte(info.GetId()), rev)
		}
		if err == nil {
			return info, nil
		}
		d.closeOrphan(ctx, c, info.GetId())
		if !errors.Is(err, jetstream.ErrKeyExists) && !bus.IsWrongLastSequence(err) {
			return nil, refuse(errcode.Unavailable, "the session key could not be stored; retry")
		}
	}
	return nil, refuse(errcode.Unavailable, "the session key changed too often; retry")
}

// create makes a new session on endpoint for the socket's user, as REST
// POST /sessions does (the session service asks the runtime).
func (d *Dialect) create(ctx context.Context, c *edge.Conn, endpoint string) (*syv1.SessionInfo, error) {
	rctx, cancel := d.requestCtx(ctx)
	defer cancel()
	user := c.Principal()
	req := &syv1.Envelope{Type: kind.CreateSession, UserId: user, EndpointId: endpoint,
		Body: &syv1.Envelope_CreateSessionRequest{CreateSessionRequest: &syv1.CreateSessionRequest{EndpointId: endpoint, UserId: user}}}
	reply, err := d.s.Bus().Request(rctx, bus.SubjSessionCreate(), req)
	if err != nil {
		return nil, refuse(errcode.Unavailable, "the session service did not answer; retry")
	}
	cr := reply.GetCreateSessionReply()
	if e := cr.GetError(); e != nil {
		if cr.GetStatus() == http.StatusServiceUnavailable && e.GetCode() == errcode.RuntimeOffline {
			return nil, refuse(errcode.RuntimeOffline, "no runtime online for endpoint %s", endpoint)
		}
		return nil, refuse(e.GetCode(), "no session could be started on endpoint %s: %s", endpoint, e.GetMessage())
	}
	return cr.GetSession(), nil
}

// closeOrphan closes a session that lost the race for a key.
func (d *Dialect) closeOrphan(ctx context.Context, c *edge.Conn, sid string) {
	env := &syv1.Envelope{Type: kind.SessionClose, SessionId: sid, Ts: now(),
		Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{SessionId: sid, Reason: "duplicate_chat_session"}}}
	if err := d.publish(ctx, c, env); err != nil {
		d.s.Log().WarnContext(ctx, "duplicate chat session not closed (it closes when idle)", "session", sid, "err", err)
	}
}

// follow makes the socket follow a session once: from the start of its
// running turn (so a socket joining mid-stream gets stream_start and the
// events so far, then the rest live), else from now.
func (d *Dialect) follow(ctx context.Context, c *edge.Conn, info *syv1.SessionInfo) error {
	st := stateOf(c)
	sid := info.GetId()
	st.mu.Lock()
	if st.streams[sid] != nil {
		st.mu.Unlock()
		return nil
	}
	sm := &stream{session: sid, turn: info.GetTurnMessageId() != ""}
	st.streams[sid] = sm
	st.mu.Unlock()
	after := int64(0)
	if ts := info.GetTurnSeq(); sm.turn && ts > 0 {
		after = ts - 1
		sm.turn = false // the replayed user.message starts it
		sm.hold()
	} else {
		end, err := d.s.Transcripts().Last(ctx, sid)
		if err != nil {
			d.forget(c, sid)
			return refuse(errcode.Unavailable, "the session could not be read; retry")
		}
		after = end.Seq
	}
	if err := c.Follow(ctx, sid, after, d.page(c)); err != nil {
		d.forget(c, sid)
		if ctx.Err() != nil {
			return err
		}
		return refuse(errcode.Unavailable, "the session could not be followed; retry")
	}
	st.mu.Lock()
	sm.release(c) // no live event came after the history
	st.mu.Unlock()
	return nil
}

func (d *Dialect) forget(c *edge.Conn, sid string) {
	st := stateOf(c)
	st.mu.Lock()
	delete(st.streams, sid)
	st.mu.Unlock()
}

// resume follows, when a socket opens, the user's keyed sessions whose
// turn is running (only the ?channel_session_key= one when given), so a
// client that reconnects mid-stream gets the whole stream.
func (d *Dialect) resume(ctx context.Context, c *edge.Conn) {
	user := c.Principal()
	filter := "k." + digest(user) + ".*"
	if k := stateOf(c).resumeKey; k != "" {
		filter = keyOf(user, k)
	}
	lister, err := d.keys.ListKeysFiltered(ctx, filter)
	if err != nil {
		d.s.Log().DebugContext(ctx, "chat resume: keys not listed", "err", err)
		return
	}
	n := 0
	for k := range lister.Keys() {
		if n >= maxResume {
			_ = lister.Stop()
			break
		}
		e, err := d.keys.Get(ctx, k)
		if err != nil {
			continue
		}
		info, err := d.usable(ctx, c, string(e.Value()))
		if err != nil || info == nil || info.GetTurnMessageId() == "" {
			continue
		}
		n++
		if err := d.follow(ctx, c, info); err != nil && ctx.Err() == nil {
			d.s.Log().WarnContext(ctx, "chat resume failed", "session", info.GetId(), "err", err)
		}
	}
}
