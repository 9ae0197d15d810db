package edge

import "sync"

// serial runs functions one at a time in the order they were queued, on a
// goroutine that exists only while work is queued (idle sockets cost no
// goroutine). It is a socket's ordered work queue off its read loop.
type serial struct {
	mu      sync.Mutex
	queue   []func()
	max     int
	running bool
	stopped bool
	idle    *sync.Cond // signalled when the runner stops
	// drained, when set, runs as the queue's last work each time it
	// empties (before the runner ends; work queued meanwhile runs after).
	drained func()
}

func newSerial(max int) *serial {
	s := &serial{max: max}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// push queues fn; false if the queue is full or stopped.
func (s *serial) push(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || len(s.queue) >= s.max {
		return false
	}
	s.queue = append(s.queue, fn)
	if !s.running {
		s.running = true
		go s.run()
	}
	return true
}

// inline runs fn on the caller's goroutine when nothing is queued or
// running, else queues it behind the work there; false as push.
func (s *serial) inline(fn func()) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	if s.running {
		s.mu.Unlock()
		return s.push(fn)
	}
	// Mark running so work queued meanwhile waits for fn.
	s.running = true
	s.mu.Unlock()
	fn()
	s.mu.Lock()
	if len(s.queue) == 0 && s.drained != nil {
		s.mu.Unlock()
		s.drained()
		s.mu.Lock()
	}
	if len(s.queue) > 0 {
		go s.run()
	} else {
		s.running = false
		s.idle.Broadcast()
	}
	s.mu.Unlock()
	return true
}

func (s *serial) run() {
	for drainedRan := false; ; {
		s.mu.Lock()
		if len(s.queue) > 0 && !s.stopped {
			fn := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			fn()
			drainedRan = false
			continue
		}
		if s.drained != nil && !drainedRan {
			s.mu.Unlock()
			s.drained()
			drainedRan = true
			continue
		}
		s.queue = nil
		s.running = false
		s.idle.Broadcast()
		s.mu.Unlock()
		return
	}
}

// pending is the number of functions queued behind the running one.
func (s *serial) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// busy says whether work is queued or running.
func (s *serial) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// wait returns once the queued work has run (work queued meanwhile too).
func (s *serial) wait() {
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// stop drops queued work and waits for the running function to return.
func (s *serial) stop() {
	s.mu.Lock()
	s.stopped = true
	s.queue = nil
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
}
