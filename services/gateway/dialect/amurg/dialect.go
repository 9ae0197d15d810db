// Package amurg serves the runtime/client dialect (document 003) on the
// gateway core: /ws/runtime (runtime.hello, the runtime's events, config
// acks, files it produces, token refresh) and /ws/client (subscribe and
// replay, the client's commands). Bytes ⇄ envelopes is the pure codec
// pkg/dialect/amurg; socket life, bus and fan-out are the core's (edge).
package amurg

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/clock"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// Name is the dialect's name on the core.
const Name = "amurg"

// Paths of the dialect's sockets.
const (
	PathRuntime = "/ws/runtime"
	PathClient  = "/ws/client"
)

// Dialect is the runtime/client dialect on one gateway.
type Dialect struct {
	s *edge.Server
}

// Register serves the dialect on s (an edge.Room).
func Register(s *edge.Server) error {
	s.Register(&Dialect{s: s})
	return nil
}

// state is one socket's dialect state.
type state struct {
	authOK bool // client: the token was known

	mu       sync.Mutex
	revision string // runtime: the protocol revision of its hello (codec.Revision*)
	// runtime: endpoints whose stored config override was sent after the
	// hello and not acked yet (config.go)
	helloConfigs map[string]bool
}

// Name implements edge.Dialect.
func (d *Dialect) Name() string { return Name }

// Paths implements edge.Dialect.
func (d *Dialect) Paths() []string { return []string{PathRuntime, PathClient} }

// Accept implements edge.Dialect. A runtime is anonymous until its hello;
// a client's token (static or JWT: edge.Server.Authenticate) comes from
// "Authorization: Bearer" or ?token=. A bad
// client token is answered after the upgrade (Open) with
// error{auth_failed} and close 1008, so every kind of client can read why.
// Metrics label the dialect's sockets by role (runtime, client).
func (d *Dialect) Accept(r *http.Request) (edge.Admission, error) {
	if r.URL.Path == PathRuntime {
		return edge.Admission{Role: kind.RoleRuntime, Label: kind.RoleRuntime.String(), State: &state{}}, nil
	}
	p, ok := d.s.Authenticate(r)
	return edge.Admission{Role: kind.RoleClient, Principal: p.User, Expires: p.Expires, Label: kind.RoleClient.String(), State: &state{authOK: ok}}, nil
}

// Open implements edge.Dialect.
func (d *Dialect) Open(c *edge.Conn) {
	if c.Role() == kind.RoleClient && !stateOf(c).authOK {
		c.SendError("", errcode.AuthFailed, "missing or unknown client token")
		c.Close(edge.ReasonAuthFailed, "")
	}
}

// Frame implements edge.Dialect.
func (d *Dialect) Frame(c *edge.Conn, f edge.Frame) {
	if c.Role() == kind.RoleRuntime {
		d.runtimeFrame(c, f)
		return
	}
	d.clientFrame(c, f)
}

// Render implements edge.Dialect.
func (d *Dialect) Render(env *syv1.Envelope, role kind.Role) (edge.Frame, error) {
	b, err := codec.Encode(env, role)
	return edge.Text(b), err
}

// RenderConn implements edge.ConnRenderer: a runtime is answered in the
// protocol revision of its hello.
func (d *Dialect) RenderConn(c *edge.Conn, env *syv1.Envelope) (edge.Frame, error) {
	st := stateOf(c)
	st.mu.Lock()
	rev := st.revision
	st.mu.Unlock()
	b, err := codec.EncodeRevision(env, c.Role(), rev)
	return edge.Text(b), err
}

// Closed implements edge.Dialect: the token refresher ends with the socket.
func (d *Dialect) Closed(*edge.Conn) {}

func stateOf(c *edge.Conn) *state { return c.State().(*state) }

// decode parses a frame, answering a bad one with an error frame; the
// socket stays open.
func decode(c *edge.Conn, f edge.Frame) *syv1.Envelope {
	if f.Binary {
		c.SendError("", errcode.UnsupportedType, "binary frames are not part of this dialect")
		return nil
	}
	env, derr := codec.Decode(f.Data, c.Role(), time.Now())
	if derr != nil {
		c.SendError(derr.SessionID, derr.Code, derr.Message)
		return nil
	}
	return env
}

func pong(c *edge.Conn) {
	_ = c.Send(edge.Text([]byte(`{"type":"pong","ts":"` + clock.Stamp(time.Now()) + `"}`)))
}

// send renders an envelope to the socket; a failure is the socket's end.
func send(c *edge.Conn, env *syv1.Envelope) { _ = c.SendEnvelope(env) }

// requestCtx bounds a request to another service by the request timeout
// and the socket's life.
func (d *Dialect) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.s.Config().RequestTimeout)
}
