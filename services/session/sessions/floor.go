package sessions

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// floors keeps each session's last appended seq in its record
// (SessionInfo.last_seq), so that a session whose entries retention trimmed
// away entirely continues its seq instead of restarting at 1
// (transcript.Store.Last reads the floor then). While any entry of a session
// is stored its newest one is, so the floor only needs to catch up within
// SY_SEQ_FLOOR_INTERVAL of an append: the flusher writes each changed
// session once per interval, not once per frame.
type floors struct {
	mu    sync.Mutex
	dirty map[string]int64
}

func newFloors() *floors { return &floors{dirty: map[string]int64{}} }

// note records that session has reached seq.
func (f *floors) note(session string, seq int64) {
	f.mu.Lock()
	if seq > f.dirty[session] {
		f.dirty[session] = seq
	}
	f.mu.Unlock()
}

func (f *floors) take() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.dirty
	f.dirty = map[string]int64{}
	return out
}

// flushFloors writes the noted seqs into the session records (only ever
// raising last_seq). A failed write is noted again for the next round.
func (s *Service) flushFloors(ctx context.Context) {
	for session, seq := range s.floors.take() {
		_, err := s.cat.UpdateSession(ctx, session, func(si *syv1.SessionInfo) bool {
			if si.GetLastSeq() >= seq {
				return false
			}
			si.LastSeq = seq
			return true
		})
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			s.floors.note(session, seq)
			if ctx.Err() == nil {
				s.log.Debug("seq floor not recorded", "session", session, "err", err)
			}
		}
	}
}

// keepFloors flushes every interval until ctx ends, then once more.
func (s *Service) keepFloors(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.SeqFloorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flushFloors(fctx)
			cancel()
			return
		case <-t.C:
			s.flushFloors(ctx)
		}
	}
}
