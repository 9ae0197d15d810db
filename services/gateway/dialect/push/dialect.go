// Package push serves the push channels of document 000 on the gateway
// core: the read-only WebSockets /notification and /statechange. Events
// come from the whole cluster over core NATS (sy.push.>): a pod holds one
// subscription while it has at least one reader, renders each event once
// (pkg/dialect/push.Render) and queues the same bytes on every local
// reader that may see it (push.Visible) and asked for its type (?types=).
// The room also publishes the events the gateway itself is the source of:
// AppNotification after every non-GET REST call, UserNotification for
// runtime presence and POST /v1/notifications, AppUpdateProgress from a
// runtime's agent.update_progress.
package push

import (
	"net/http"

	"github.com/gorilla/websocket"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// Name is the dialect's name on the core (metrics label "push").
const Name = "push"

// Dialect is the push channels on one gateway.
type Dialect struct {
	s   *edge.Server
	fan *fanout
}

// Register serves the push channels and the gateway's push sources on s
// (an edge.Room).
func Register(s *edge.Server) error {
	d := &Dialect{s: s}
	d.fan = newFanout(s)
	s.Register(d)
	registerSources(s)
	return nil
}

// reader is one push socket's dialect state.
type reader struct {
	c       *edge.Conn
	channel codec.Channel
	filter  codec.Filter
	who     codec.Reader
	refused string // non-empty: close 1008 with this text once open
}

// Name implements edge.Dialect.
func (d *Dialect) Name() string { return Name }

// Paths implements edge.Dialect.
func (d *Dialect) Paths() []string {
	return []string{codec.ChannelNotification.Path(), codec.ChannelStateChange.Path()}
}

// OriginAllowed implements edge.OriginChecker: a browser Origin is admitted
// when SY_PUSH_ALLOWED_ORIGINS or SY_ALLOWED_ORIGINS lists it.
func (d *Dialect) OriginAllowed(r *http.Request) bool {
	return edge.OriginMatches(r, d.s.Config().PushAllowedOrigins) || d.s.OriginAllowed(r)
}

// Accept implements edge.Dialect: a request that is not a WebSocket
// upgrade is 400 (as the document says), so is a bad ?types= filter; a
// browser Origin outside the allow-list is 403. Credentials are judged by
// admit; a refused token is answered after the upgrade (close 1008) so
// every kind of client can read why.
func (d *Dialect) Accept(r *http.Request) (edge.Admission, error) {
	if !websocket.IsWebSocketUpgrade(r) || r.Method != http.MethodGet {
		return edge.Admission{}, &edge.Refusal{Status: http.StatusBadRequest,
			Message: r.URL.Path + " is a WebSocket endpoint: send a WebSocket upgrade request"}
	}
	filter, err := codec.ParseFilter(r.URL.Query())
	if err != nil {
		return edge.Admission{}, &edge.Refusal{Status: http.StatusBadRequest, Message: err.Error()}
	}
	if !d.OriginAllowed(r) {
		return edge.Admission{}, &edge.Refusal{Status: http.StatusForbidden,
			Message: "origin " + r.Header.Get("Origin") + " may not open push channels (SY_PUSH_ALLOWED_ORIGINS, SY_ALLOWED_ORIGINS)"}
	}
	ch := codec.ChannelNotification
	if r.URL.Path == codec.ChannelStateChange.Path() {
		ch = codec.ChannelStateChange
	}
	rd := &reader{channel: ch, filter: filter}
	rd.who, rd.refused = d.admit(r)
	principal := rd.who.UserID
	// A reader without a user (a loopback reader of the dev stack, or one
	// refused in Open) is a read-only feed: no auth deadline applies.
	return edge.Admission{Role: kind.RoleReader, Principal: principal, Anonymous: principal == "", State: rd}, nil
}

// Open implements edge.Dialect: a refused reader is closed with 1008,
// anyone else starts receiving events.
func (d *Dialect) Open(c *edge.Conn) {
	rd := stateOf(c)
	if rd.refused != "" {
		c.Close(edge.ReasonAuthFailed, rd.refused)
		return
	}
	rd.c = c
	if err := d.fan.add(rd); err != nil {
		d.s.Log().Warn("push reader not subscribed", "conn", c.ID(), "err", err)
		c.Close(edge.ReasonUnavailable, "")
	}
}

// Frame implements edge.Dialect. The channels are read-only: whatever a
// reader sends (text or binary) is ignored; the core's frame-rate and
// size limits still apply (above SY_MAX_MESSAGE_BYTES: close 1009).
func (d *Dialect) Frame(*edge.Conn, edge.Frame) {}

// Render implements edge.Dialect: push envelopes only (anything else, such
// as the core's rate_limited error, has no frame on these channels).
func (d *Dialect) Render(env *syv1.Envelope, _ kind.Role) (edge.Frame, error) {
	ev, err := codec.Render(env)
	if err != nil {
		return edge.Frame{}, err
	}
	return edge.Text(ev.JSON), nil
}

// Closed implements edge.Dialect.
func (d *Dialect) Closed(c *edge.Conn) { d.fan.remove(stateOf(c)) }

// DrainReason implements edge.Drainer: on shutdown the document's agent
// closes with NormalClosure, 1000.
func (d *Dialect) DrainReason() edge.CloseReason { return edge.ReasonShutdown }

func stateOf(c *edge.Conn) *reader { return c.State().(*reader) }
