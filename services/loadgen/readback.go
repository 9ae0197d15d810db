package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Persisted ingest (-clients 0): no socket subscribes while frames are
// sent, so the hub only stores them. After each step the load generator
// waits until the hub has stored as many frames as were sent (its append
// counters, when its /metrics is reachable), then reads every session's
// transcript back from where the last read ended (client.subscribe with
// after_seq: the hub replays what it stored, in history.response pages)
// and counts the frames of the window it finds, checking seqs for gaps and
// repeats. It reads again while frames of the window are still missing and
// the last read found more, so a hub still working through its backlog is
// not counted as a loss; a frame the hub lost shows up as missing.

// readBack is the per-session position of the transcripts read so far.
type readBack struct {
	mu   sync.Mutex
	last map[string]int64 // session → highest seq read
}

// appendCounters are the hub metrics that count stored runtime frames:
// a gateway's direct appends and the session service's appends.
const (
	metricDirectAppends  = "switchyard_gateway_direct_appends_total"
	metricSessionAppends = "switchyard_session_transcript_appends_total"
)

// appended is how many frames the hub stored between snapshots a and b.
func (r *runner) appended(a, b *hubSnapshot) float64 {
	n := r.hub.gatewayDelta(a, b, metricDirectAppends)
	if v, ok := promDeltaOf(a, b, "session", metricSessionAppends); ok {
		n += v
	}
	return n
}

// awaitStored waits (at most the drain time) until the hub has stored
// every frame of the step, counted from snapshot start, or stops storing.
func (r *runner) awaitStored(ctx context.Context, start *hubSnapshot, st *step, until time.Time) {
	prev, still := -1.0, time.Now()
	for ctx.Err() == nil && time.Now().Before(until) {
		n := r.appended(start, r.hub.snapshot(ctx))
		if n >= float64(st.sentAll.Load()) {
			return
		}
		if n != prev {
			prev, still = n, time.Now()
		} else if time.Since(still) > 3*time.Second {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readBackStep reads the transcripts back until every frame of st's
// window is found, or a read finds nothing new after the hub has had
// settle to store more, or until.
func (r *runner) readBackStep(ctx context.Context, st *step, until time.Time) error {
	const settle = 6 * time.Second
	for found := time.Now(); ; {
		before := st.recv.Load()
		if err := r.readBackOnce(ctx, st); err != nil {
			return err
		}
		now := time.Now()
		if st.recv.Load() > before {
			found = now
		}
		if st.recv.Load() >= st.sent.Load() || now.Sub(found) > settle || now.After(until) || ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// readBackOnce reads every session's new transcript entries and counts
// those of st's window into st.recv; gaps and repeats go to the run's
// counters.
func (r *runner) readBackOnce(ctx context.Context, st *step) error {
	var sessions []string
	for _, rt := range r.runtimes {
		if rt != nil {
			sessions = append(sessions, rt.sessions...)
		}
	}
	cfg := r.cfg
	return parallel(len(sessions), 8, func(i int) error {
		s := sessions[i]
		r.rb.mu.Lock()
		after := r.rb.last[s]
		r.rb.mu.Unlock()
		last, err := r.readTranscript(ctx, cfg.Gateways[i%len(cfg.Gateways)], cfg.Runtimes+i, s, after, st)
		r.rb.mu.Lock()
		r.rb.last[s] = last
		r.rb.mu.Unlock()
		return err
	})
}

// readTranscript replays session after seq after and returns the last seq
// read.
func (r *runner) readTranscript(ctx context.Context, gw string, idx int, session string, after int64, st *step) (int64, error) {
	conn, err := r.d.dial(ctx, clientURL(gw, r.cfg.ClientToken), idx)
	if err != nil {
		return after, fmt.Errorf("read back %s: %w", session, err)
	}
	defer conn.Close()
	if err := writeJSON(conn, outFrame{Type: "client.subscribe", Payload: map[string]any{"session_id": session, "after_seq": after}}); err != nil {
		return after, fmt.Errorf("read back %s: %w", session, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	last := after
	for {
		f, err := readFrame(conn)
		if err != nil {
			return last, fmt.Errorf("read back %s: %w", session, err)
		}
		switch f.Type {
		case "history.response":
			var p struct {
				HasMore  bool              `json:"has_more"`
				Messages []json.RawMessage `json:"messages"`
			}
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				return last, fmt.Errorf("read back %s: history.response: %w", session, err)
			}
			for _, m := range p.Messages {
				last = r.countStored(m, last, st)
			}
			if !p.HasMore {
				return last, nil
			}
		case "error":
			return last, fmt.Errorf("read back %s: %s", session, f.Payload)
		}
	}
}

// countStored checks one stored frame's seq against the last one read and
// counts it when it was sent in st's window.
func (r *runner) countStored(m []byte, last int64, st *step) int64 {
	seq, sched, _, ok := parseOutput(m)
	if !ok {
		return max(last, seq) // another entry of the transcript (none in a bench session)
	}
	switch {
	case seq == last+1:
	case seq > last+1:
		r.c.gaps.Add(seq - last - 1)
	default:
		r.c.dups.Add(1)
		return last
	}
	if st.inWindow(sched) {
		st.recv.Add(1)
	}
	return seq
}
