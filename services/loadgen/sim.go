package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// step is one offered rate: warmup, then a measure window. Frames are
// counted and timed by the time they were scheduled to be sent, so a
// sender that falls behind (open loop) shows up as latency.
type step struct {
	rate         float64
	fanout       int64
	pStart       int64 // unix ns: pacing (warmup) starts
	wStart, wEnd int64 // unix ns: the measure window

	sent      atomic.Int64 // scheduled in the window and written
	sentAll   atomic.Int64
	sendErr   atomic.Int64
	recv      atomic.Int64 // received, scheduled in the window
	recvWall  atomic.Int64 // received while the window was open
	recvAll   atomic.Int64
	lastRecv  atomic.Int64 // unix ns of the last frame received
	late      atomic.Int64 // frames of an earlier step
	lat       hist         // receive − scheduled
	latWrite  hist         // receive − written
	behindMax atomic.Int64 // how far behind schedule a runtime's write was, at most (ns)
}

func (s *step) inWindow(ns int64) bool { return ns >= s.wStart && ns < s.wEnd }

// counters shared by every simulated socket.
type simCounters struct {
	cur          atomic.Pointer[step]
	gaps, dups   atomic.Int64
	clientsLost  atomic.Int64
	errorFrames  atomic.Int64 // error frames received by clients
	rtErrFrames  atomic.Int64 // error frames received by runtimes
	mu           sync.Mutex
	closeReasons map[string]int
	errSamples   []string
}

func newSimCounters() *simCounters { return &simCounters{closeReasons: map[string]int{}} }

func (c *simCounters) noteClose(role string, err error) {
	c.mu.Lock()
	c.closeReasons[role+": "+closeReason(err)]++
	c.mu.Unlock()
}

func (c *simCounters) noteError(role string, payload json.RawMessage) {
	c.mu.Lock()
	if len(c.errSamples) < 20 {
		c.errSamples = append(c.errSamples, role+": "+string(payload))
	}
	c.mu.Unlock()
}

// ---- runtimes ----

type runtimeSim struct {
	id, endpoint string
	conn         *websocket.Conn
	wmu          sync.Mutex
	sessions     []string
	seqs         []int64
	ack          chan error
	done         chan struct{}
	closing      atomic.Bool
	c            *simCounters
	buf          []byte
}

func dialRuntime(ctx context.Context, d *sockDialer, gw string, idx int, id, endpoint, token string, c *simCounters) (*runtimeSim, error) {
	conn, err := d.dial(ctx, wsURL(gw, "/ws/runtime", nil), idx)
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w", id, err)
	}
	r := &runtimeSim{id: id, endpoint: endpoint, conn: conn, ack: make(chan error, 1), done: make(chan struct{}), c: c}
	go r.readLoop()
	hello := outFrame{Type: "runtime.hello", Payload: map[string]any{
		"runtime_id": id, "token": token, "org_id": "default",
		"endpoints": []map[string]any{{"id": endpoint, "profile": "bench", "name": "sy-loadgen " + endpoint,
			"caps": map[string]any{"native_session_ids": false, "turn_completion": true, "resume_attach": false, "exec_model": "interactive"}}},
	}}
	if err := r.send(hello); err != nil {
		r.close()
		return nil, fmt.Errorf("runtime %s: hello: %w", id, err)
	}
	select {
	case err := <-r.ack:
		if err != nil {
			r.close()
			return nil, fmt.Errorf("runtime %s: %w", id, err)
		}
	case <-r.done:
		return nil, fmt.Errorf("runtime %s: socket closed before hello.ack", id)
	case <-ctx.Done():
		r.close()
		return nil, fmt.Errorf("runtime %s: no hello.ack: %w", id, ctx.Err())
	}
	return r, nil
}

func (r *runtimeSim) send(v any) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return writeJSON(r.conn, v)
}

func (r *runtimeSim) readLoop() {
	defer close(r.done)
	for {
		_, data, err := r.conn.ReadMessage()
		if err != nil {
			if !r.closing.Load() {
				r.c.noteClose("runtime", err)
			}
			return
		}
		var f inFrame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "hello.ack":
			var p struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			_ = json.Unmarshal(f.Payload, &p)
			var err error
			if !p.OK {
				err = fmt.Errorf("hello refused: %s", p.Error)
			}
			select {
			case r.ack <- err:
			default:
			}
		case "session.create":
			var p struct {
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal(f.Payload, &p)
			if p.SessionID == "" {
				p.SessionID = f.SessionID
			}
			_ = r.send(outFrame{Type: "session.created", SessionID: p.SessionID,
				Payload: map[string]any{"session_id": p.SessionID, "ok": true, "native_handle": ""}})
		case "ping":
			_ = r.send(outFrame{Type: "pong"})
		case "error":
			r.c.rtErrFrames.Add(1)
			r.c.noteError("runtime", f.Payload)
		}
	}
}

// pace sends agent.output frames at rate per second, round-robin over the
// runtime's sessions, from start + phase until end; every frame carries the
// time it was scheduled and the time it was written. The caller gives each
// runtime its own phase, a fraction of the interval, so that together they
// offer evenly spaced frames rather than one burst per interval.
func (r *runtimeSim) pace(st *step, rate float64, start time.Time, phase float64, end time.Time, size int) {
	if rate <= 0 || len(r.sessions) == 0 {
		return
	}
	p, err := newPacer()
	if err != nil {
		st.sendErr.Add(1)
		return
	}
	defer p.close()
	interval := float64(time.Second) / rate
	t0 := start.UnixNano()
	stop := end.UnixNano()
	for n := int64(0); ; n++ {
		sched := frameAt(t0, interval, phase, n)
		if sched >= stop {
			return
		}
		p.waitUntil(sched)
		now := time.Now().UnixNano()
		if behind := now - sched; behind > st.behindMax.Load() {
			st.behindMax.Store(behind)
		}
		i := int(n % int64(len(r.sessions)))
		r.seqs[i]++
		r.buf = r.appendOutput(r.buf[:0], r.sessions[i], r.seqs[i], sched, now, size)
		r.wmu.Lock()
		_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err := r.conn.WriteMessage(websocket.TextMessage, r.buf)
		r.wmu.Unlock()
		if err != nil {
			st.sendErr.Add(1)
			return
		}
		st.sentAll.Add(1)
		if st.inWindow(sched) {
			st.sent.Add(1)
		}
	}
}

// frameAt is when frame n of a runtime pacing every interval ns from t0
// at the given phase (a fraction of the interval) is due.
func frameAt(t0 int64, interval, phase float64, n int64) int64 {
	return t0 + int64((phase+float64(n))*interval)
}

func (r *runtimeSim) appendOutput(b []byte, session string, seq, sched, written int64, size int) []byte {
	b = append(b, `{"type":"agent.output","session_id":"`...)
	b = append(b, session...)
	b = append(b, `","payload":{"session_id":"`...)
	b = append(b, session...)
	b = append(b, `","message_id":"`...)
	b = append(b, r.id...)
	b = append(b, `-out","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"channel":"stdout","content":"`...)
	b = appendContent(b, sched, written, size)
	b = append(b, `","final":false}}`...)
	return b
}

func (r *runtimeSim) close() {
	r.closing.Store(true)
	r.wmu.Lock()
	_ = r.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
	r.wmu.Unlock()
	_ = r.conn.Close()
}

// ---- subscribed clients ----

type clientSim struct {
	conn    *websocket.Conn
	session string
	last    int64
	closing atomic.Bool
	c       *simCounters
	done    chan struct{}
}

func clientURL(gw, token string) string {
	return wsURL(gw, "/ws/client", url.Values{"token": {token}})
}

// dialClient opens a client socket, subscribes to session from the start
// and waits for the history.response.
func dialClient(ctx context.Context, d *sockDialer, gw string, idx int, token, session string, c *simCounters) (*clientSim, error) {
	conn, err := d.dial(ctx, clientURL(gw, token), idx)
	if err != nil {
		return nil, err
	}
	cl := &clientSim{conn: conn, session: session, c: c, done: make(chan struct{})}
	if err := writeJSON(conn, outFrame{Type: "client.subscribe", Payload: map[string]any{"session_id": session, "after_seq": 0}}); err != nil {
		_ = conn.Close()
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = conn.SetReadDeadline(deadline)
	for {
		f, err := readFrame(conn)
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("subscribe %s: %w", session, err)
		}
		switch f.Type {
		case "history.response":
			var p struct {
				LastSeq int64 `json:"last_seq"`
			}
			_ = json.Unmarshal(f.Payload, &p)
			cl.last = p.LastSeq
			_ = conn.SetReadDeadline(time.Time{})
			go cl.readLoop()
			return cl, nil
		case "error":
			_ = conn.Close()
			return nil, fmt.Errorf("subscribe %s: %s", session, f.Payload)
		}
	}
}

func (cl *clientSim) readLoop() {
	defer close(cl.done)
	c := cl.c
	for {
		_, data, err := cl.conn.ReadMessage()
		if err != nil {
			if !cl.closing.Load() {
				c.clientsLost.Add(1)
				c.noteClose("client", err)
			}
			return
		}
		now := time.Now().UnixNano()
		seq, sched, written, ok := parseOutput(data)
		if !ok {
			if len(data) > 16 && string(data[:16]) == `{"type":"error",` {
				c.errorFrames.Add(1)
				var f inFrame
				_ = json.Unmarshal(data, &f)
				c.noteError("client", f.Payload)
			}
			continue
		}
		switch {
		case seq == cl.last+1:
		case seq > cl.last+1:
			c.gaps.Add(seq - cl.last - 1)
		default:
			c.dups.Add(1)
			continue
		}
		cl.last = seq
		st := c.cur.Load()
		if st == nil {
			continue
		}
		st.recvAll.Add(1)
		st.lastRecv.Store(now)
		if now >= st.wStart && now < st.wEnd {
			st.recvWall.Add(1)
		}
		switch {
		case st.inWindow(sched):
			st.recv.Add(1)
			st.lat.record(time.Duration(now - sched))
			if written > 0 {
				st.latWrite.record(time.Duration(now - written))
			}
		case sched < st.pStart:
			st.late.Add(1)
		}
	}
}

func (cl *clientSim) close() {
	cl.closing.Store(true)
	_ = cl.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done"), time.Now().Add(time.Second))
	_ = cl.conn.Close()
}
