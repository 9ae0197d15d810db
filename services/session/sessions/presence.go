package sessions

// Runtime presence when nobody says goodbye. A gateway announces a
// runtime offline when the runtime's socket ends on it; a gateway that is
// killed (SIGKILL, node loss) announces nothing, and its ownership records
// (sy:rt:<runtime>) just expire after SY_OWNER_TTL. Every session replica
// therefore compares, each SY_SWEEP_INTERVAL, the runtime_offline flag of
// the open sessions it knows (the record cache) with Redis: a runtime whose
// sy:rt record has been missing for at least SY_HEARTBEAT (so a Redis that
// lost its data, whose records the gateways rewrite within one heartbeat,
// flips nothing) is announced offline into each of its sessions'
// partitions; a session flagged offline whose runtime has a record again is
// announced online. As with the permission and idle sweeps, the sweeper
// changes nothing itself: it publishes runtime.status envelopes with
// deterministic ids (the session and the record's KV revision), so several
// replicas sweeping at once are deduplicated by JetStream, and the
// partition consumer checks Redis again before it flips the flag, so a
// sweep that raced a hello or a disconnect is dropped.

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// presenceLookup says which runtimes have a live socket (ownership.Lookup).
type presenceLookup interface {
	RuntimesOnline(ctx context.Context, rids []string) (map[string]bool, error)
}

// sweptPrefix starts the ids of runtime.status envelopes the sweeper made.
const sweptPrefix = "presence."

// UsePresence lets the replica read runtime ownership (Redis): it then
// sweeps for runtimes that vanished without a goodbye. Without it (no
// Redis) only the gateways' announcements change a session's presence.
func (s *Service) UsePresence(l presenceLookup) { s.presence = l }

// presenceState is the sweeper's memory: since when each runtime has been
// seen without an ownership record.
type presenceState struct {
	missingSince map[string]time.Time
}

// sweepPresence runs one presence sweep.
func (s *Service) sweepPresence(ctx context.Context, st *presenceState) error {
	if s.presence == nil {
		return nil
	}
	open := s.records.open()
	rids := make([]string, 0, len(open))
	seen := map[string]bool{}
	for _, r := range open {
		if rid := r.info.GetRuntimeId(); rid != "" && !seen[rid] {
			seen[rid] = true
			rids = append(rids, rid)
		}
	}
	if len(rids) == 0 {
		clear(st.missingSince)
		return nil
	}
	online, err := s.presence.RuntimesOnline(ctx, rids)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	grace := max(s.cfg.Heartbeat, s.cfg.SweepInterval)
	gone := map[string]bool{}
	for _, rid := range rids {
		if online[rid] {
			delete(st.missingSince, rid)
			continue
		}
		since, ok := st.missingSince[rid]
		if !ok {
			st.missingSince[rid], since = now, now
		}
		gone[rid] = now.Sub(since) >= grace
	}
	for rid := range st.missingSince {
		if !seen[rid] {
			delete(st.missingSince, rid)
		}
	}
	for _, r := range open {
		rid := r.info.GetRuntimeId()
		switch {
		case online[rid] && r.info.GetRuntimeOffline():
			err = s.publishPresence(ctx, r, true)
		case gone[rid] && !r.info.GetRuntimeOffline():
			err = s.publishPresence(ctx, r, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// publishPresence announces a runtime's presence into one session.
func (s *Service) publishPresence(ctx context.Context, r cachedRecord, online bool) error {
	id := r.info.GetId()
	env := &syv1.Envelope{
		Id: sweptPrefix + id + "." + strconv.FormatUint(r.rev, 10), Type: kind.RuntimeStatus, SessionId: id,
		Ts: clock.Stamp(s.clock.Now()), RuntimeId: r.info.GetRuntimeId(),
		Body: &syv1.Envelope_RuntimeStatus{RuntimeStatus: &syv1.RuntimeStatus{RuntimeId: r.info.GetRuntimeId(), Online: online}},
	}
	if !online {
		s.log.InfoContext(ctx, "runtime vanished without a disconnect (its gateway died?): announcing it offline",
			"runtime_id", r.info.GetRuntimeId(), "session_id", id)
	}
	_, err := s.bus.Publish(ctx, bus.InboundSubject(s.cfg.Partitions, id), env)
	return err
}

// sweptStale says whether a swept runtime.status no longer matches Redis
// (a hello or a disconnect came between the sweep and its handling): it is
// then dropped. Envelopes from gateways are never stale.
func (s *Service) sweptStale(ctx context.Context, env *syv1.Envelope) (bool, error) {
	if s.presence == nil || !strings.HasPrefix(env.GetId(), sweptPrefix) {
		return false, nil
	}
	rid := env.GetRuntimeStatus().GetRuntimeId()
	online, err := s.presence.RuntimesOnline(ctx, []string{rid})
	if err != nil {
		return false, err
	}
	return online[rid] != env.GetRuntimeStatus().GetOnline(), nil
}

// cachedRecord is a session record with its KV revision.
type cachedRecord struct {
	info *syv1.SessionInfo
	rev  uint64
}

// open lists the cached records of sessions that are not closed.
func (c *recordCache) open() []cachedRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]cachedRecord, 0, len(c.recs))
	for id, info := range c.recs {
		if info.GetStatus() != catalog.StatusClosed {
			out = append(out, cachedRecord{info: info, rev: c.revs[id]})
		}
	}
	return out
}
