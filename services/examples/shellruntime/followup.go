package main

import "context"

// Chat follow-ups (user.message with followup:true, the hub's inject
// mode): a follow-up that arrives while a turn runs is run in that turn,
// after the running command, as one more Bash tool call; the turn ends
// with one turn.completed. One that arrives when no turn runs starts a
// turn like any message.

// inject adds a follow-up to the running turn; false when it is not a
// follow-up or no turn runs. Called with s.mu held.
func (s *session) inject(m userMessage) bool {
	if !m.Followup || s.stopTurn == nil {
		return false
	}
	s.followups = append(s.followups, m)
	return true
}

// nextFollowup pops the running turn's next follow-up; when there is none
// (or the turn was stopped) the turn ends, in the same critical section,
// so no follow-up is accepted into a turn that is over.
func (s *session) nextFollowup(ctx context.Context) (userMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.followups) > 0 && ctx.Err() == nil {
		m := s.followups[0]
		s.followups = s.followups[1:]
		return m, true
	}
	s.followups, s.stopTurn = nil, nil
	return userMessage{}, false
}

// takeOutputBytes returns and resets the turn's output byte count.
func (s *session) takeOutputBytes() int64 {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	n := s.outBytes
	s.outBytes = 0
	return n
}
