package edge

import (
	"sync"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Direct appends: a runtime's streamed output is stored once.
//
// The session service stores a runtime's agent.output, tool use and results
// and turn.started unchanged; its one check is that the sender is the
// session's runtime, and a session's runtime never changes. So once a
// runtime socket knows that about a session, it appends those frames to the
// session's transcript (SY_EVT) itself: one store and one hop per frame
// instead of two (SY_IN, then the session service's append). It learns it
// from the session service: every frame the socket sends to SY_IN for a
// session asks for a receipt (Envelope.want_receipt), which the session
// service sends (kind.InReceipt, to the socket) after handling the frame
// from the session's runtime.
//
// Per session, order is kept across the two paths:
//   - a frame for SY_IN waits until the session's direct appends are stored,
//     so turn.completed (or a permission.request) lands after the output
//     sent before it;
//   - while the session's last SY_IN frame has no receipt, output of the
//     session goes to SY_IN too, behind it in its partition's order. A
//     receipt therefore also says that every earlier frame of the session,
//     from this socket or an earlier one of the runtime, has been handled.
//
// Seqs come from a transcript.Writer (expected last subject sequence), so
// the session service appending to the same transcript (user.message,
// turn.completed) is safe: a writer whose cached end is stale retries once.
// Frames read before the socket ends are still stored, as on SY_IN.

// directKinds are the runtime frames the session service only stores.
var directKinds = map[string]bool{kind.AgentOutput: true, kind.ToolUse: true, kind.ToolResult: true, kind.TurnStarted: true}

// maxDirectSessions bounds a socket's per-session state; past it, idle
// sessions are forgotten (their next output asks for a receipt again).
const maxDirectSessions = 10_000

// direct is a runtime socket's per-session state of direct appends.
type direct struct {
	mu       sync.Mutex
	sessions map[string]*directSession
	// slots bounds the socket's appends queued or in flight: a full socket
	// stops reading (TCP backpressure to the runtime), as SY_IN's window does.
	slots chan struct{}
}

type directSession struct {
	confirmed bool    // a receipt came: this socket is the session's runtime
	pending   string  // the id of the session's last SY_IN frame without a receipt
	appends   *serial // the session's appends, one at a time, in order
}

func newDirect() *direct {
	return &direct{sessions: map[string]*directSession{}, slots: make(chan struct{}, ingestWindow)}
}

// session returns id's state, creating it. With d.mu held.
func (d *direct) session(id string) *directSession {
	ds := d.sessions[id]
	if ds != nil {
		return ds
	}
	if len(d.sessions) >= maxDirectSessions {
		for k, v := range d.sessions {
			if v.pending == "" && !v.appends.busy() {
				delete(d.sessions, k)
			}
		}
	}
	// The socket's window bounds the queue: a push never finds it full.
	ds = &directSession{appends: newSerial(ingestWindow)}
	d.sessions[id] = ds
	return ds
}

// ingestDirect appends f's frame to its transcript from this socket when
// that keeps the session's order, and reports whether it did (else the
// frame goes to SY_IN: ingestInbound).
func (c *Conn) ingestDirect(f heldFrame) bool {
	d := c.direct
	if d == nil || !directKinds[f.env.GetType()] {
		return false
	}
	d.mu.Lock()
	ds := d.sessions[f.env.GetSessionId()]
	ok := ds != nil && ds.confirmed && ds.pending == ""
	d.mu.Unlock()
	if !ok {
		return false
	}
	d.slots <- struct{}{} // the socket's window (released after the append)
	ds.appends.push(func() {
		c.appendFrame(f)
		<-d.slots
	})
	return true
}

// ingestInbound prepares a frame of a runtime socket for SY_IN: it waits
// for the session's direct appends to be stored (held frames go out
// first, so they do not wait with it), and asks for a receipt.
func (c *Conn) ingestInbound(env *syv1.Envelope) {
	d, session := c.direct, env.GetSessionId()
	if d == nil || session == "" {
		return
	}
	d.mu.Lock()
	ds := d.session(session)
	ds.pending = env.GetId()
	d.mu.Unlock()
	// The socket ingests one frame at a time, so no append of the session
	// can be pushed while this waits (and none will be while pending is set).
	if ds.appends.busy() {
		c.flushHeld()
		ds.appends.wait()
	}
	env.WantReceipt = true
}

// receipted notes the session service's receipt for one of the socket's
// frames (kind.InReceipt).
func (c *Conn) receipted(env *syv1.Envelope) {
	d := c.direct
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ds := d.sessions[env.GetSessionId()]
	if ds == nil {
		return
	}
	ds.confirmed = true
	if ds.pending == env.GetId() {
		ds.pending = ""
	}
}

// appendFrame stores one frame as the next entry of its session's
// transcript (JetStream's default timeout bounds it); a frame not stored
// is answered with error{unavailable}.
func (c *Conn) appendFrame(f heldFrame) {
	s := c.s
	defer f.span.End()
	start := time.Now()
	appendEntry := s.tw.Append
	if f.ref == "" {
		appendEntry = s.tw.AppendFresh // the id is the gateway's (assignID): no resend can repeat it
	}
	_, err := appendEntry(f.ctx, transcript.Entry(f.env))
	s.m.publishLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		c.notAccepted(f.ctx, f.env, f.ref, f.span, err)
		return
	}
	s.m.directAppends.Inc()
}

// seqFloorInterval is how often a gateway writes the seqs of the output it
// appended into the session records (its writer's Floors): output streamed
// with no turn ending behind it keeps its floor too (the session service's
// SY_SEQ_FLOOR_INTERVAL default).
const seqFloorInterval = time.Second
