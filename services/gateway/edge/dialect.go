package edge

import (
	"context"
	"net/http"

	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Dialect is one wire protocol the core serves. The core owns the socket
// (keepalive, limits, send queue, ownership records, close codes), the
// bus (ingest, directed delivery, fan-out, broadcast) and the order of
// work; a dialect owns its bytes and its handshake. Dialects are
// registered by the gateway's main (Server.Register), never imported here.
type Dialect interface {
	// Name names the dialect ("amurg", "device", …): Route.dialect of what
	// its sockets send, and the dialect label of
	// switchyard_gateway_closes_total.
	Name() string
	// Paths are the HTTP paths whose WebSocket upgrades the dialect takes.
	Paths() []string
	// Accept decides, from the upgrade request, who the socket is. An
	// error refuses the upgrade (a *Refusal gives the HTTP status).
	Accept(r *http.Request) (Admission, error)
	// Open runs once the socket is registered, before its first frame is
	// read (a dialect may greet, or refuse after the upgrade).
	Open(c *Conn)
	// Frame handles one frame the socket sent, on the socket's read
	// goroutine and in order. Anything that may wait on the network goes
	// to c.Do (or c.Serial for short work that must stay in order with it):
	// the read loop must keep reading, or a healthy socket misses its pongs.
	Frame(c *Conn, f Frame)
	// Render turns an envelope into the frame a socket of role receives.
	// A fanned-out or broadcast event is rendered once per dialect and
	// role present, and the bytes are shared by those sockets: Render must
	// not depend on the recipient beyond its role.
	Render(env *syv1.Envelope, role kind.Role) (Frame, error)
	// Closed runs once when the socket has ended, before the core forgets it.
	Closed(c *Conn)
}

// LiveSender is an optional Dialect interface for a dialect that keeps
// per-socket state over a followed session's events (the chat stream:
// stream_start before its deltas, stream_end once). The core then hands it
// each event for each of its sockets, in order, with the shared rendering
// f, instead of queuing f itself; Live must not block.
type LiveSender interface {
	Live(c *Conn, env *syv1.Envelope, f Frame)
}

// Frame is one WebSocket data frame.
type Frame struct {
	Binary bool
	Data   []byte
}

// Text is a text frame.
func Text(b []byte) Frame { return Frame{Data: b} }

// Admission is who a socket is, as the dialect's Accept found it.
type Admission struct {
	Role      kind.Role
	Principal string // user id; "" until known (a runtime before its hello: then Conn.Authenticate)
	// Anonymous admits a socket that needs no principal (a read-only
	// public feed): no auth deadline, no pre-authentication frame limit,
	// no per-principal cap (the per-address cap still holds).
	Anonymous bool
	// Label is the socket's dialect label in the per-socket metrics
	// (connections, frames, drops, closes); "" means the dialect's Name.
	Label string
	// State is the dialect's own per-socket state (Conn.State).
	State any
}

// Refusal is an Accept error that answers the upgrade with an HTTP status.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Page is one page of a followed session's history (Conn.Follow).
type Page struct {
	Session  string
	After    int64 // the page holds seq > After …
	Last     int64 // … up to Last (After when empty)
	HasMore  bool  // more history pages follow
	Messages []*syv1.Envelope
	// FirstSeq is the lowest seq the hub still stores for the session (0:
	// none, or not read because the range was empty); Trimmed says part of
	// the requested range was removed by retention (the page then starts
	// at FirstSeq, or is empty when all of it is gone).
	FirstSeq int64
	Trimmed  bool
}

// PageFunc renders and sends one history page; the core calls it with the
// socket's queue below half full, and never while holding a lock.
type PageFunc func(ctx context.Context, p Page) error

// DeliveryHook runs on a directed envelope of one kind before it is
// rendered for its target socket (e.g. files: load the bytes of a
// file.upload). An error refuses the delivery. It runs on the target
// socket's delivery worker: a slow hook delays only that socket.
type DeliveryHook func(ctx context.Context, c *Conn, env *syv1.Envelope) error

// IngestHook runs on an envelope of one kind a socket hands to the hub
// (Conn.Ingest) before it is published; false means the hook answered the
// socket itself and nothing is published.
type IngestHook func(ctx context.Context, c *Conn, env *syv1.Envelope) bool

// Room is a part of the gateway registered on the core before it starts:
// a dialect, the REST API, files.
type Room func(*Server) error

// ConnRenderer is a Dialect that renders what is sent to one socket
// (Conn.SendEnvelope: directed frames, replies, errors) in that socket's
// own variant of the protocol (e.g. the revision a runtime spoke in its
// hello). Fan-out and broadcasts still use Render, shared per role.
type ConnRenderer interface {
	RenderConn(c *Conn, env *syv1.Envelope) (Frame, error)
}
