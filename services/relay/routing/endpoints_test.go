package routing

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	const grace = 10 * time.Minute
	owned := func(rid, org string) *syv1.EndpointRecord {
		return &syv1.EndpointRecord{Endpoint: &syv1.Endpoint{Id: "ep"}, RuntimeId: rid, OrgId: org}
	}
	marked := func(at time.Time) *syv1.EndpointRecord {
		r := owned("rtA", "o")
		r.OwnerOfflineAt = at.Format(time.RFC3339Nano)
		return r
	}
	released := owned("rtA", "o")
	released.ReleasedAt = clock.Stamp(t0)
	for _, tc := range []struct {
		name        string
		old         *syv1.EndpointRecord
		rid, org    string
		online      bool
		grace       time.Duration
		want        verdict
		asksPresent bool
	}{
		{name: "new endpoint", old: nil, rid: "rtB", org: "o", want: verdict{allow: true}},
		{name: "owner again", old: owned("rtA", "o"), rid: "rtA", org: "o", want: verdict{allow: true}},
		{name: "released", old: released, rid: "rtB", org: "o", want: verdict{allow: true}},
		{name: "other runtime, owner online", old: owned("rtA", "o"), rid: "rtB", org: "o", online: true, want: verdict{}, asksPresent: true},
		{name: "same runtime id, other org", old: owned("rtA", "o"), rid: "rtA", org: "p", online: true, want: verdict{}, asksPresent: true},
		{name: "owner offline, first seen", old: owned("rtA", "o"), rid: "rtB", org: "o", want: verdict{markOffline: true}, asksPresent: true},
		{name: "owner offline within grace", old: marked(t0.Add(-grace + time.Second)), rid: "rtB", org: "o", want: verdict{}, asksPresent: true},
		{name: "owner offline past grace", old: marked(t0.Add(-grace)), rid: "rtB", org: "o", want: verdict{allow: true}, asksPresent: true},
		{name: "owner back online after a mark", old: marked(t0.Add(-time.Hour)), rid: "rtB", org: "o", online: true, want: verdict{}, asksPresent: true},
		{name: "grace 0, owner offline", old: owned("rtA", "o"), rid: "rtB", org: "o", grace: -1, want: verdict{allow: true}, asksPresent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := grace
			if tc.grace < 0 {
				g = 0
			}
			asked := false
			got, err := decide(tc.old, tc.rid, tc.org, t0, g, func() (bool, error) { asked = true; return tc.online, nil })
			if err != nil || got != tc.want || asked != tc.asksPresent {
				t.Fatalf("decide = %+v, %v (asked presence %v); want %+v (asks %v)", got, err, asked, tc.want, tc.asksPresent)
			}
		})
	}
}

// fakeEndpoints is an in-memory endpointStore with revisions.
type fakeEndpoints struct {
	recs map[string][]byte
	revs map[string]uint64
}

func newFakeEndpoints() *fakeEndpoints {
	return &fakeEndpoints{recs: map[string][]byte{}, revs: map[string]uint64{}}
}

func (f *fakeEndpoints) EndpointRev(_ context.Context, id string) (*syv1.EndpointRecord, uint64, error) {
	b, ok := f.recs[id]
	if !ok {
		return nil, 0, catalog.ErrNotFound
	}
	rec := &syv1.EndpointRecord{}
	_ = proto.Unmarshal(b, rec)
	return rec, f.revs[id], nil
}

func (f *fakeEndpoints) PutEndpointRev(_ context.Context, rec *syv1.EndpointRecord, rev uint64) error {
	id := rec.GetEndpoint().GetId()
	if f.revs[id] != rev {
		return catalog.ErrConflict
	}
	b, _ := proto.Marshal(rec)
	f.recs[id], f.revs[id] = b, rev+1
	return nil
}

// fakePresence: runtime ids with a live socket.
type fakePresence map[string]bool

func (p fakePresence) Runtime(_ context.Context, rid string) (string, string, bool, error) {
	return "pod", "conn", p[rid], nil
}

type counter int

func (c *counter) Inc() { *c++ }

func newTestRegistrar(clk clock.Clock, online fakePresence) (*registrar, *fakeEndpoints) {
	eps := newFakeEndpoints()
	return &registrar{eps: eps, online: online, clock: clk, grace: 10 * time.Minute,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), refused: new(counter)}, eps
}

func helloFor(rid string, eps ...string) *syv1.RuntimeHello {
	h := &syv1.RuntimeHello{RuntimeId: rid, OrgId: "default"}
	for _, id := range eps {
		h.Endpoints = append(h.Endpoints, &syv1.Endpoint{Id: id, Name: id})
	}
	return h
}

// TestClaimLifecycle walks one endpoint through the ownership rules with a
// fake clock: first registration, a hijack refused, the owner going
// offline, the grace, a takeover, an admin release.
func TestClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	online := fakePresence{"rtA": true}
	r, eps := newTestRegistrar(clk, online)

	if _, refusal := r.claim(ctx, helloFor("rtA", "ep1", "ep2")); refusal != nil {
		t.Fatalf("first registration refused: %v", refusal)
	}
	// The admin's override on ep1 outlives a takeover.
	if _, err := r.update(ctx, "ep1", func(rec *syv1.EndpointRecord) {
		rec.Override = &syv1.EndpointConfigUpdate{EndpointId: "ep1"}
	}); err != nil {
		t.Fatal(err)
	}
	_, refusal := r.claim(ctx, helloFor("rtB", "ep3", "ep1"))
	if refusal.GetCode() != errcode.EndpointOwned || refusal.GetOk() || !strings.HasPrefix(refusal.GetError(), "endpoint_owned: endpoint ep1") {
		t.Fatalf("hijack of ep1: %v", refusal)
	}
	if _, _, err := eps.EndpointRev(ctx, "ep3"); err == nil {
		t.Fatal("a refused hello registered some of its endpoints (want all or none)")
	}
	if n := *r.refused.(*counter); n != 1 {
		t.Fatalf("refused claims counted %v, want 1", n)
	}

	online["rtA"] = false
	if _, refusal := r.claim(ctx, helloFor("rtB", "ep1")); refusal.GetCode() != errcode.EndpointOwned {
		t.Fatalf("claim when the owner just went offline: %v", refusal)
	}
	clk.Advance(9 * time.Minute)
	if _, refusal := r.claim(ctx, helloFor("rtB", "ep1")); refusal.GetCode() != errcode.EndpointOwned {
		t.Fatalf("claim within the grace: %v", refusal)
	}
	clk.Advance(time.Minute)
	configs, refusal := r.claim(ctx, helloFor("rtB", "ep1"))
	if refusal != nil || len(configs) != 1 {
		t.Fatalf("claim after the grace: %v, configs %v", refusal, configs)
	}
	if rec, _, _ := eps.EndpointRev(ctx, "ep1"); rec.GetRuntimeId() != "rtB" || rec.GetOwnerOfflineAt() != "" || rec.GetOverride() == nil {
		t.Fatalf("ep1 after the takeover: %v", rec)
	}

	// ep2 still belongs to rtA (offline, not yet seen so); its own hello
	// clears a mark left by a contest.
	if _, refusal := r.claim(ctx, helloFor("rtB", "ep2")); refusal == nil {
		t.Fatal("ep2 taken without a grace")
	}
	online["rtA"] = true
	if _, refusal := r.claim(ctx, helloFor("rtA", "ep2")); refusal != nil {
		t.Fatalf("owner's hello refused: %v", refusal)
	}
	if rec, _, _ := eps.EndpointRev(ctx, "ep2"); rec.GetOwnerOfflineAt() != "" {
		t.Fatalf("the owner's hello left the offline mark: %v", rec)
	}

	// An admin release hands ep2 to the next runtime at once.
	before, err := r.release(ctx, "ep2")
	if err != nil || before.GetRuntimeId() != "rtA" {
		t.Fatalf("release: %v, %v", before, err)
	}
	if _, refusal := r.claim(ctx, helloFor("rtB", "ep2")); refusal != nil {
		t.Fatalf("claim after release: %v", refusal)
	}
	if rec, _, _ := eps.EndpointRev(ctx, "ep2"); rec.GetRuntimeId() != "rtB" || rec.GetReleasedAt() != "" {
		t.Fatalf("ep2 after the release and claim: %v", rec)
	}
	if _, err := r.release(ctx, "nope"); err != catalog.ErrNotFound {
		t.Fatalf("release of an unknown endpoint: %v", err)
	}
}

func TestUniqueEndpointsLastWins(t *testing.T) {
	got := uniqueEndpoints([]*syv1.Endpoint{{Id: "a", Name: "1"}, {Id: "b"}, {Id: "a", Name: "2"}})
	if len(got) != 2 || got[0].GetName() != "2" || got[1].GetId() != "b" {
		t.Fatalf("uniqueEndpoints = %v", got)
	}
}

func TestReplyCode(t *testing.T) {
	for _, tc := range []struct {
		env  *syv1.Envelope
		want string
	}{
		{errorEnvelope(errcode.RuntimeOffline, "x"), errcode.RuntimeOffline},
		{&syv1.Envelope{Body: &syv1.Envelope_HelloAck{HelloAck: refuse(errcode.Unavailable, "retry")}}, errcode.Unavailable},
		{&syv1.Envelope{Body: &syv1.Envelope_HelloAck{HelloAck: &syv1.HelloAck{Ok: true}}}, ""},
		{&syv1.Envelope{}, ""},
	} {
		if got := replyCode(tc.env); got != tc.want {
			t.Errorf("replyCode(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
	if a := refuse(errcode.AuthFailed, "invalid runtime token"); a.GetError() != "auth_failed: invalid runtime token" || a.GetCode() != errcode.AuthFailed {
		t.Fatalf("refuse: %v", a)
	}
}
