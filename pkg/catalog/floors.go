package catalog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Floors collects each session's last appended seq for its record
// (SessionInfo.last_seq), so that a session whose entries retention trimmed
// away entirely continues its seq instead of restarting (transcript.Store.Last
// reads the floor then). While any entry of a session is stored its newest
// one is, so the floor only needs to catch up within an interval of an
// append: KeepFloors writes each changed session once per interval, not once
// per frame. Every transcript.Writer keeps one and notes each append in it;
// the session service and each gateway run KeepFloors over their writer's.
// The zero value is ready to use.
type Floors struct {
	mu    sync.Mutex
	dirty map[string]int64
}

// Note records that session has reached seq.
func (f *Floors) Note(session string, seq int64) {
	f.mu.Lock()
	if f.dirty == nil {
		f.dirty = map[string]int64{}
	}
	if seq > f.dirty[session] {
		f.dirty[session] = seq
	}
	f.mu.Unlock()
}

func (f *Floors) take() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.dirty
	f.dirty = nil
	return out
}

// FlushFloors writes the seqs noted in f into the session records, only
// ever raising last_seq. A failed write is noted again for the next flush;
// the last such error is returned. A session without a record is skipped.
func (c *Catalog) FlushFloors(ctx context.Context, f *Floors) error {
	var last error
	for session, seq := range f.take() {
		_, err := c.UpdateSession(ctx, session, func(si *syv1.SessionInfo) bool {
			if si.GetLastSeq() >= seq {
				return false
			}
			si.LastSeq = seq
			return true
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			f.Note(session, seq)
			last = err
		}
	}
	return last
}

// KeepFloors flushes f every interval until ctx ends, then once more
// (within 5 s), so the floors of the last appends are written too.
func (c *Catalog) KeepFloors(ctx context.Context, f *Floors, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := c.FlushFloors(fctx, f); err != nil {
				log.Warn("seq floors not recorded at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := c.FlushFloors(ctx, f); err != nil && ctx.Err() == nil {
				log.Debug("seq floor not recorded; retried next interval", "err", err)
			}
		}
	}
}
