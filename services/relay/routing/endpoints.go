package routing

// Endpoint ownership. An endpoint belongs to the runtime (runtime_id and
// org_id) that registered it first. Another runtime's runtime.hello naming
// it is refused with hello.ack{ok:false, code:"endpoint_owned"}, logged and
// counted (switchyard_relay_endpoint_claims_refused_total), until either
//
//   - an admin releases the endpoint (DELETE /v1/endpoints/{id}/owner →
//     bus.SubjRelayRelease()): the next runtime to register it owns it; or
//   - the owner's registration lapses: the owner has had no live socket
//     (no sy:rt:<owner> record) for SY_ENDPOINT_OWNER_GRACE. The relay
//     cannot watch every runtime, so it measures the grace from the first
//     refused claim that found the owner offline (owner_offline_at on the
//     record); any hello of the owner clears it. A runtime that moves to a
//     new runtime id therefore keeps reconnecting (with backoff) and takes
//     over once the old id has been offline for the grace, or at once
//     after an admin release.
//
// Claims are compare-and-set on the record's KV revision, so two runtimes
// registering a new endpoint at the same moment cannot both win.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// endpointStore is the part of the catalog the registrar uses.
type endpointStore interface {
	EndpointRev(ctx context.Context, id string) (*syv1.EndpointRecord, uint64, error)
	PutEndpointRev(ctx context.Context, rec *syv1.EndpointRecord, rev uint64) error
}

// presence says whether a runtime has a live socket (Redis sy:rt:<id>).
type presence interface {
	Runtime(ctx context.Context, rid string) (pod, conn string, ok bool, err error)
}

// registrar records endpoints on runtime.hello and guards their owners.
type registrar struct {
	eps     endpointStore
	online  presence
	clock   clock.Clock
	grace   time.Duration
	log     *slog.Logger
	refused interface{ Inc() } // switchyard_relay_endpoint_claims_refused_total
}

// maxClaimAttempts bounds compare-and-set retries against concurrent writers.
const maxClaimAttempts = 8

// verdict is the decision on one endpoint of a hello.
type verdict struct {
	allow bool
	// markOffline: record now as the moment the owner was seen offline.
	markOffline bool
}

// decide says whether runtime rid of org may register an endpoint whose
// stored record is old (nil: not registered yet). ownerOnline is asked
// only when the answer depends on it.
func decide(old *syv1.EndpointRecord, rid, org string, now time.Time, grace time.Duration, ownerOnline func() (bool, error)) (verdict, error) {
	if old == nil || (old.GetRuntimeId() == rid && old.GetOrgId() == org) || old.GetReleasedAt() != "" {
		return verdict{allow: true}, nil
	}
	online, err := ownerOnline()
	if err != nil {
		return verdict{}, err
	}
	switch {
	case online:
		return verdict{}, nil
	case grace <= 0:
		return verdict{allow: true}, nil
	case old.GetOwnerOfflineAt() == "":
		return verdict{markOffline: true}, nil
	}
	since, err := time.Parse(time.RFC3339Nano, old.GetOwnerOfflineAt())
	if err != nil { // unreadable: start the grace again
		return verdict{markOffline: true}, nil
	}
	return verdict{allow: !now.Before(since.Add(grace))}, nil
}

// claim registers the hello's endpoints for its runtime, all or none. It
// returns the stored config overrides to re-send, or a refusal.
func (r *registrar) claim(ctx context.Context, h *syv1.RuntimeHello) ([]*syv1.EndpointConfigUpdate, *syv1.HelloAck) {
	eps := uniqueEndpoints(h.GetEndpoints())
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		configs, refusal, err := r.claimOnce(ctx, h, eps)
		if errors.Is(err, catalog.ErrConflict) {
			continue
		}
		if err != nil {
			r.log.ErrorContext(ctx, "endpoints not registered", "runtime_id", h.GetRuntimeId(), "err", err)
			return nil, refuse(errcode.Unavailable, "endpoint registry unavailable, retry")
		}
		return configs, refusal
	}
	return nil, refuse(errcode.Unavailable, "endpoint registry busy, retry")
}

type readEndpoint struct {
	ep  *syv1.Endpoint
	old *syv1.EndpointRecord // nil: new
	rev uint64
}

func (r *registrar) claimOnce(ctx context.Context, h *syv1.RuntimeHello, eps []*syv1.Endpoint) ([]*syv1.EndpointConfigUpdate, *syv1.HelloAck, error) {
	now := r.clock.Now()
	rid, org := h.GetRuntimeId(), h.GetOrgId()
	read := make([]readEndpoint, 0, len(eps))
	for _, ep := range eps {
		old, rev, err := r.eps.EndpointRev(ctx, ep.GetId())
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			old = nil
		case err != nil:
			return nil, nil, err
		}
		v, err := decide(old, rid, org, now, r.grace, func() (bool, error) {
			_, _, ok, err := r.online.Runtime(ctx, old.GetRuntimeId())
			return ok, err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("routing: is runtime %s online: %w", old.GetRuntimeId(), err)
		}
		if !v.allow {
			return nil, r.refuseClaim(ctx, h, old, rev, v.markOffline, now), nil
		}
		read = append(read, readEndpoint{ep: ep, old: old, rev: rev})
	}
	var configs []*syv1.EndpointConfigUpdate
	for _, e := range read {
		rec := &syv1.EndpointRecord{Endpoint: e.ep, RuntimeId: rid, OrgId: org, RegisteredAt: clock.Stamp(now), Revision: revisionOf(h)}
		// An admin's override outlives re-registration (and a takeover);
		// it is re-sent after hello.ack (overrides.go).
		if o := keepOverrides(e.old, rec); o != nil {
			configs = append(configs, o)
		}
		if err := r.eps.PutEndpointRev(ctx, rec, e.rev); err != nil {
			return nil, nil, err
		}
		if e.old != nil && e.old.GetRuntimeId() != rid {
			r.log.InfoContext(ctx, "endpoint taken over", "endpoint", e.ep.GetId(), "runtime_id", rid, "org_id", org,
				"previous_runtime_id", e.old.GetRuntimeId(), "released", e.old.GetReleasedAt() != "")
		}
	}
	return configs, nil, nil
}

// refuseClaim logs and counts a refused claim and, the first time the
// owner is seen offline, starts its grace.
func (r *registrar) refuseClaim(ctx context.Context, h *syv1.RuntimeHello, old *syv1.EndpointRecord, rev uint64, markOffline bool, now time.Time) *syv1.HelloAck {
	id := old.GetEndpoint().GetId()
	r.refused.Inc()
	r.log.WarnContext(ctx, "endpoint claim refused: owned by another runtime", "endpoint", id,
		"runtime_id", h.GetRuntimeId(), "org_id", h.GetOrgId(), "owner_runtime_id", old.GetRuntimeId(), "owner_org_id", old.GetOrgId())
	if markOffline {
		marked := cloneRecord(old)
		marked.OwnerOfflineAt = now.UTC().Format(time.RFC3339Nano)
		if err := r.eps.PutEndpointRev(ctx, marked, rev); err != nil && !errors.Is(err, catalog.ErrConflict) {
			r.log.WarnContext(ctx, "owner offline time not recorded", "endpoint", id, "err", err)
		}
	}
	return refuse(errcode.EndpointOwned, "endpoint "+id+" is registered to another runtime; an admin can release it (DELETE /v1/endpoints/"+id+"/owner)")
}

// update applies fn to an endpoint record with compare-and-set retries.
func (r *registrar) update(ctx context.Context, id string, fn func(*syv1.EndpointRecord)) (*syv1.EndpointRecord, error) {
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		rec, rev, err := r.eps.EndpointRev(ctx, id)
		if err != nil {
			return nil, err
		}
		fn(rec)
		err = r.eps.PutEndpointRev(ctx, rec, rev)
		if errors.Is(err, catalog.ErrConflict) {
			continue
		}
		return rec, err
	}
	return nil, fmt.Errorf("routing: update endpoint %s: %w", id, catalog.ErrConflict)
}

// release forgets an endpoint's owner (admin). It returns the record as
// stored before, for the former owner's id.
func (r *registrar) release(ctx context.Context, id string) (*syv1.EndpointRecord, error) {
	var before *syv1.EndpointRecord
	_, err := r.update(ctx, id, func(rec *syv1.EndpointRecord) {
		before = cloneRecord(rec)
		rec.ReleasedAt, rec.OwnerOfflineAt = clock.Stamp(r.clock.Now()), ""
	})
	return before, err
}

// releaseRequest serves bus.SubjRelayRelease(). Request: Envelope{type:
// kind.EndpointRelease, endpoint_id}. Reply: the same kind with endpoint_id
// and runtime_id (the former owner), or an Error (invalid_message,
// endpoint_not_found, unavailable).
func (s *Service) releaseRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	id := env.GetEndpointId()
	if !bus.ValidToken(id) {
		return errorEnvelope(errcode.InvalidMessage, "endpoint ids are 1-128 characters of [A-Za-z0-9_-]")
	}
	before, err := s.reg.release(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorEnvelope(errcode.EndpointUnknown, "no endpoint "+id)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "endpoint not released", "endpoint", id, "err", err)
		return errorEnvelope(errcode.Unavailable, "endpoint registry unavailable, retry")
	}
	s.m.releases.Inc()
	s.log.InfoContext(ctx, "endpoint released by an admin", "endpoint", id, "owner_runtime_id", before.GetRuntimeId())
	return &syv1.Envelope{Type: kind.EndpointRelease, EndpointId: id, RuntimeId: before.GetRuntimeId(), Ts: clock.Stamp(s.clock.Now())}
}

func refuse(code, text string) *syv1.HelloAck {
	return &syv1.HelloAck{Ok: false, Code: code, Error: code + ": " + text}
}

func uniqueEndpoints(eps []*syv1.Endpoint) []*syv1.Endpoint {
	seen := make(map[string]int, len(eps))
	out := make([]*syv1.Endpoint, 0, len(eps))
	for _, ep := range eps {
		if i, ok := seen[ep.GetId()]; ok {
			out[i] = ep // the last one wins, as with one Put per entry before
			continue
		}
		seen[ep.GetId()] = len(out)
		out = append(out, ep)
	}
	return out
}

func cloneRecord(rec *syv1.EndpointRecord) *syv1.EndpointRecord {
	return proto.Clone(rec).(*syv1.EndpointRecord)
}
