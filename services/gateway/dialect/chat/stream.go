package chat

import (
	"context"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/chat"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// stream is one chat socket's view of one followed session: whether a turn
// runs (its user.message was seen) and whether its stream_start was sent.
// It turns the session's events, in seq order, into a well-formed chat
// stream: stream_start before any delta or tool event (the runtime's
// turn.started, or one made here when the runtime sent none), one
// stream_end per stream_start (turn.completed, or one made here with
// is_error when the turn ended otherwise), nothing outside a turn.
type stream struct {
	session string
	turn    bool
	open    bool // stream_start sent; open implies turn
}

// Live implements edge.LiveSender: each live event of a followed session,
// for this socket, in order.
func (d *Dialect) Live(c *edge.Conn, env *syv1.Envelope, f edge.Frame) {
	st := stateOf(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if sm := st.streams[env.GetSessionId()]; sm != nil {
		sm.step(c, env, f.Data)
	}
}

// page feeds one history page of a session the socket joins (Follow) to
// its stream state: the running turn's events so far.
func (d *Dialect) page(c *edge.Conn) edge.PageFunc {
	return func(_ context.Context, p edge.Page) error {
		st := stateOf(c)
		st.mu.Lock()
		defer st.mu.Unlock()
		sm := st.streams[p.Session]
		if sm == nil {
			return nil
		}
		for _, env := range p.Messages {
			b, _ := codec.Render(env)
			sm.step(c, env, b)
		}
		return nil
	}
}

func (sm *stream) send(c *edge.Conn, b []byte) { _ = c.Send(edge.Text(b)) }

// start sends stream_start unless it was sent.
func (sm *stream) start(c *edge.Conn, b []byte) {
	if sm.open {
		return
	}
	if b == nil {
		b = codec.StreamStart(sm.session)
	}
	sm.send(c, b)
	sm.open, sm.turn = true, true
}

// end closes the running turn's stream with stream_end b, or with an
// is_error stream_end naming reason when b is nil; nothing when no turn runs.
func (sm *stream) end(c *edge.Conn, b []byte, reason string) {
	if !sm.turn {
		return
	}
	sm.start(c, nil)
	if b == nil {
		b = codec.StreamEnd(codec.End{SessionID: sm.session, IsError: true, Errors: []string{reason}})
	}
	sm.send(c, b)
	sm.open, sm.turn = false, false
}

// step applies one session event; b is its chat rendering (nil: none).
func (sm *stream) step(c *edge.Conn, env *syv1.Envelope, b []byte) {
	switch env.GetType() {
	case kind.UserMessage:
		if env.GetUserMessage().GetFollowup() {
			return // injected into the running turn: same stream
		}
		sm.end(c, nil, "the turn ended without turn.completed")
		sm.turn = true
	case kind.TurnStarted:
		sm.start(c, b)
	case kind.AgentOutput, kind.ToolUse, kind.ToolResult:
		if len(b) == 0 || !sm.turn {
			return
		}
		sm.start(c, nil)
		sm.send(c, b)
	case kind.TurnCompleted:
		sm.end(c, b, "")
	case kind.StopAck:
		if env.GetStopAck().GetOk() {
			sm.end(c, nil, "stopped")
		}
	case kind.SessionClosed:
		sm.end(c, nil, "session closed: "+env.GetSessionClose().GetReason())
	case kind.RuntimeStatus:
		if !env.GetRuntimeStatus().GetOnline() {
			sm.end(c, nil, "runtime offline")
		}
	case kind.Error:
		if len(b) > 0 {
			sm.send(c, b)
		}
	}
}
