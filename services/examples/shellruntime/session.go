package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
)

var (
	errStopped = errors.New("stopped by request")
	errClosed  = errors.New("session closed")
)

// session runs its user messages one at a time, in arrival order, in its
// own temporary working directory.
type session struct {
	id  string
	dir string
	rt  *runtime

	ctx    context.Context // ends when the session closes
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	queue    []userMessage
	working  bool                    // a worker goroutine owns the queue
	stopTurn context.CancelCauseFunc // non-nil while a turn runs
	closed   bool

	emitMu   sync.Mutex // orders seq assignment with the queueing of frames
	seq      int64
	outBytes int64 // output bytes of the running turn (usage)

	followups []userMessage // injected into the running turn (followup.go)
}

func newSession(parent context.Context, id string, rt *runtime) (*session, error) {
	dir, err := os.MkdirTemp("", "shellruntime-*")
	if err != nil {
		return nil, fmt.Errorf("session %s: working directory: %w", id, err)
	}
	ctx, cancel := context.WithCancelCause(parent)
	return &session{id: id, dir: dir, rt: rt, ctx: ctx, cancel: cancel}, nil
}

// enqueue adds a message and starts a worker unless one is running.
func (s *session) enqueue(m userMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.inject(m) {
		return
	}
	s.queue = append(s.queue, m)
	if !s.working {
		s.working = true
		s.rt.turns.Add(1)
		go s.work()
	}
}

func (s *session) work() {
	defer s.rt.turns.Done()
	for {
		m, ok := s.next()
		if !ok {
			return
		}
		s.runTurn(m)
	}
}

// next pops the queue; when it is empty (or the session closed) the
// worker retires, removing the directory of a closed session.
func (s *session) next() (userMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 || s.closed {
		s.working = false
		if s.closed {
			s.removeDir()
		}
		return userMessage{}, false
	}
	m := s.queue[0]
	s.queue = s.queue[1:]
	return m, true
}

// beginTurn registers the cancel function stop.request uses.
func (s *session) beginTurn(stop context.CancelCauseFunc) {
	s.mu.Lock()
	s.stopTurn = stop
	s.mu.Unlock()
}

// stop calls acked, then kills the running command; false (acked not
// called) when nothing runs.
func (s *session) stop(acked func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopTurn == nil {
		return false
	}
	acked() // before the kill: stop.ack precedes the turn.completed it causes
	s.stopTurn(errStopped)
	return true
}

// close kills anything running and drops what is queued; the directory
// goes now, or when the worker has finished with it.
func (s *session) close() {
	s.cancel(errClosed)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.queue = nil
	if !s.working {
		s.removeDir()
	}
}

func (s *session) removeDir() {
	if err := os.RemoveAll(s.dir); err != nil {
		s.rt.log.Warn("cannot remove session directory", "session", s.id, "dir", s.dir, "err", err)
	}
}
