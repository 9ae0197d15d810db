package sessions

import (
	"context"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// turnCompleted stores a runtime's turn.completed and ends the running
// turn, unless the frame names (in_response_to) a turn that is not the
// running one: real runtimes send a second turn.completed for a turn they
// were asked to stop, and that late frame must not end the next turn. A
// turn.completed without in_response_to, or one naming the running turn,
// ends it as before; one arriving while no turn runs is stored (it changes
// nothing). The record is read from the bucket: the partition orders this
// read with the session's user.message handling, so the running turn
// cannot change in between.
func (s *Service) turnCompleted(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	if names := env.GetTurnCompleted().GetInResponseTo(); names != "" {
		cur, _, err := s.sessions.Session(ctx, info.GetId())
		if err != nil {
			return err
		}
		// Stale: it names the turn that already ended (a runtime's second
		// turn.completed after a stop) while another turn runs. A name the
		// hub does not know (e.g. an injected follow-up's id) still ends
		// the running turn.
		if running := cur.GetTurnMessageId(); running != "" && running != names && names == cur.GetLastTurnMessageId() {
			s.m.staleCompletions.Inc()
			s.log.InfoContext(ctx, "turn.completed for a turn that is not running ignored",
				"session_id", info.GetId(), "in_response_to", names, "running", running)
			return nil
		}
	}
	return s.runtimeEvent(ctx, env, info, true)
}
