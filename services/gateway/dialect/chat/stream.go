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
//
// A socket that joins a running turn replays it from its user.message;
// while that history is read the frames are held (held != nil), so a turn
// that the history shows already ended (the session record still named it
// running: the record is written after the transcript) sends nothing, as
// joining after the record changed would. The hold ends with the history.
type stream struct {
	session string
	turn    bool
	open    bool     // stream_start sent; open implies turn
	held    [][]byte // frames of a replayed turn, until the history ends
}

// Live implements edge.LiveSender: each live event of a followed session,
// for this socket, in order.
func (d *Dialect) Live(c *edge.Conn, env *syv1.Envelope, f edge.Frame) {
	st := stateOf(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if sm := st.streams[env.GetSessionId()]; sm != nil {
		sm.release(c)
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

// sender is where a stream's frames go: the socket (*edge.Conn).
type sender interface{ Send(edge.Frame) error }

func (sm *stream) send(c sender, b []byte) {
	if sm.held != nil {
		sm.held = append(sm.held, b)
		return
	}
	_ = c.Send(edge.Text(b))
}

// hold starts holding the frames of a replayed turn.
func (sm *stream) hold() { sm.held = make([][]byte, 0, 8) }

// release ends the hold: the held frames (a turn still running when its
// history ended) go to the socket.
func (sm *stream) release(c sender) {
	held := sm.held
	if held == nil {
		return
	}
	sm.held = nil
	for _, b := range held {
		sm.send(c, b)
	}
}

// start sends stream_start unless it was sent.
func (sm *stream) start(c sender, b []byte) {
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
func (sm *stream) end(c sender, b []byte, reason string) {
	if !sm.turn {
		return
	}
	sm.start(c, nil)
	if b == nil {
		b = codec.StreamEnd(codec.End{SessionID: sm.session, IsError: true, Errors: []string{reason}})
	}
	sm.send(c, b)
	sm.open, sm.turn = false, false
	if sm.held != nil {
		sm.held = sm.held[:0] // the replayed turn had ended: nothing to resume
	}
}

// step applies one session event; b is its chat rendering (nil: none).
func (sm *stream) step(c sender, env *syv1.Envelope, b []byte) {
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
