package edge

import (
	"context"
	"time"

	"github.com/nats-io/nuid"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// announceRuntime tells the session service that a runtime's socket came
// or went; the session service marks the runtime's sessions and tells
// their subscribers (runtime.status frames). It travels on SY_IN like
// every other change, so it is not lost if a session replica is down.
func (s *Server) announceRuntime(ctx context.Context, rid string, online bool) {
	env := &syv1.Envelope{Id: nuid.Next(), Type: bus.TypeRuntimeStatus, RuntimeId: rid, Ts: amurg.Timestamp(time.Now()),
		Body: &syv1.Envelope_RuntimeStatus{RuntimeStatus: &syv1.RuntimeStatus{RuntimeId: rid, Online: online}}}
	if _, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, "rt-"+rid), env); err != nil {
		s.log.WarnContext(ctx, "runtime status not announced", "runtime", rid, "online", online, "err", err)
	}
}
