// Package chat serves the chat-stream dialect (document 002) on the
// gateway core: a chat UI connects to /ws/chat?token=… (and /ws?token=… on
// the compatibility listener), sends {"type":"message",…} and receives
// stream_start, text_delta, tool_use, tool_result, stream_end, error and
// notification frames. A chat session is a Switchyard session: the same
// conversation is seen by runtime/client subscribers. Bytes ⇄ envelopes
// is the pure codec pkg/dialect/chat; socket life, bus and fan-out are
// the core's (edge).
package chat

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/chat"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// Name is the dialect's name on the core (Route.dialect, metric label).
const Name = "chat"

// Paths of the dialect's sockets: /ws/chat on the main listener; /ws (the
// document's URL) on the compatibility listener (SY_CHAT_COMPAT_LISTEN).
const (
	PathChat   = "/ws/chat"
	PathCompat = "/ws"
)

// Dialect is the chat room on one gateway.
type Dialect struct {
	s     *edge.Server
	cfg   *settings
	keys  jetstream.KeyValue // sy_chat_keys
	seen  *recent            // job notification envelope ids already pushed
	notes *nats.Subscription
}

// ListenerName names the chat compatibility listener (edge.Server.ListenAddr).
const ListenerName = "chat-compat"

// Register serves the chat dialect on s (an edge.Room): /ws/chat, the
// compatibility listener, and job notifications for the pod's chat sockets.
func Register(s *edge.Server) error {
	cfg := s.Config()
	st, err := parseSettings(cfg.Chat, cfg.MaxFileBytes)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RequestTimeout)
	defer cancel()
	kv, err := ensureKeys(ctx, s)
	if err != nil {
		return err
	}
	d := &Dialect{s: s, cfg: st, keys: kv, seen: newRecent(4096)}
	s.Register(d)
	if addr := cfg.Chat.CompatListen; addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc(PathCompat, s.Upgrade(d))
		mux.HandleFunc(PathChat, s.Upgrade(d))
		s.Listen(ListenerName, addr, mux, cfg.Chat.CompatOptional)
	}
	if d.notes, err = s.Bus().NC.Subscribe(bus.SubjJobNotification(), d.onNotification); err != nil {
		return fmt.Errorf("chat: subscribe job notifications: %w", err)
	}
	return nil
}

// state is one chat socket.
type state struct {
	authOK bool
	// resumeKey: ?channel_session_key= of the upgrade (resume only that
	// key's running stream on connect).
	resumeKey string

	mu       sync.Mutex
	channels map[string]string  // channel_id → session, for messages without a key
	keys     map[string]string  // channel_session_key → session
	streams  map[string]*stream // followed session → its stream state
}

func stateOf(c *edge.Conn) *state { return c.State().(*state) }

// Name implements edge.Dialect.
func (d *Dialect) Name() string { return Name }

// Paths implements edge.Dialect.
func (d *Dialect) Paths() []string { return []string{PathChat} }

// Accept implements edge.Dialect. The token is the client dialect's
// (SY_CLIENT_TOKENS, or a JWT), from ?token= or "Authorization: Bearer". A bad one
// is answered after the upgrade (Open): a browser cannot read the status
// of a refused upgrade, but it reads an error frame and the close code.
func (d *Dialect) Accept(r *http.Request) (edge.Admission, error) {
	p, ok := d.s.Authenticate(r) // static client tokens or a JWT
	user := p.User
	st := &state{authOK: ok, resumeKey: r.URL.Query().Get("channel_session_key"),
		channels: map[string]string{}, keys: map[string]string{}, streams: map[string]*stream{}}
	return edge.Admission{Role: kind.RoleClient, Principal: user, Expires: p.Expires, Label: Name, State: st}, nil
}

// Open implements edge.Dialect: a bad token gets {"type":"error"} and close
// 1008; a good one resumes the user's running streams.
func (d *Dialect) Open(c *edge.Conn) {
	if !stateOf(c).authOK {
		_ = c.Send(edge.Text(codec.ErrorFrame("missing or unknown token")))
		c.Close(edge.ReasonAuthFailed, "")
		return
	}
	c.Do(func(ctx context.Context) { d.resume(ctx, c) })
}

// Frame implements edge.Dialect: every bad frame gets an error frame and
// the socket stays open; a good message is handled off the read loop, in
// order with the socket's other messages.
func (d *Dialect) Frame(c *edge.Conn, f edge.Frame) {
	if !stateOf(c).authOK {
		return
	}
	if f.Binary {
		sendError(c, errcode.UnsupportedType, "binary frames are not part of this protocol")
		return
	}
	m, derr := codec.Decode(f.Data)
	if derr != nil {
		sendError(c, derr.Code, derr.Message)
		return
	}
	if aerr := codec.ValidateAttachments(m.Attachments, d.cfg.attachments); aerr != nil {
		sendError(c, string(aerr.Reason), aerr.Message)
		return
	}
	c.Do(func(ctx context.Context) { d.message(ctx, c, m) })
}

// Render implements edge.Dialect: chat.Render, and an empty frame (sent to
// no one: see Live) for events without a chat frame.
func (d *Dialect) Render(env *syv1.Envelope, _ kind.Role) (edge.Frame, error) {
	b, ok := codec.Render(env)
	if !ok {
		return edge.Frame{}, nil
	}
	return edge.Text(b), nil
}

// Closed implements edge.Dialect.
func (d *Dialect) Closed(*edge.Conn) {}

// sendError sends the document's error frame {"type":"error","message"};
// code (pkg/errcode, or an attachment reason) is counted in the core's
// error metric, the frame has no code field.
func sendError(c *edge.Conn, code, message string) { c.SendError("", code, message) }

// requestCtx bounds a request to another service.
func (d *Dialect) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.s.Config().RequestTimeout+d.s.Config().RequestTimeout/10)
}

func now() string { return clock.Stamp(time.Now()) }
