package sessions

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestDispatchTable: every inbound kind has its handler and the right
// owner check; the table is the one place that says so.
func TestDispatchTable(t *testing.T) {
	table := (&Service{}).handlers()
	for _, tc := range []struct {
		kind  string
		name  string
		owner ownerCheck
	}{
		{kind.UserMessage, "userMessage", owner},
		{kind.TurnStarted, "runtimeEvent", ownerCached},
		{kind.AgentOutput, "runtimeEvent", ownerCached},
		{kind.FileAvailable, "runtimeEvent", ownerCached},
		{kind.TurnCompleted, "runtimeEvent+endsTurn", ownerCached},
		{kind.StopAck, "runtimeEvent+endsTurnIfOk", ownerCached},
		{kind.PermissionRequest, "permissionRequest", owner},
		{kind.PermissionResponse, "permissionResponse", owner},
		{kind.SessionCreated, "sessionCreated", owner},
		{kind.SessionClose, "sessionClose", owner},
		{kind.StopRequest, "clientCommand", owner},
		{kind.FileUpload, "clientCommand", owner},
		{kind.PermissionTimeout, "permissionTimeout", noOwner},
		{kind.SessionIdle, "sessionIdle", noOwner},
		{kind.RuntimeStatus, "runtimeStatus", noOwner},
		{kind.RouteFailed, "routeFailed", noOwner},
		{kind.ToolUse, "runtimeEvent", ownerCached},
		{kind.ToolResult, "runtimeEvent", ownerCached},
		{kind.ChatDequeue, "dequeue", noOwner},
	} {
		h, ok := table[tc.kind]
		if !ok || h.name != tc.name || h.owner != tc.owner || h.run == nil {
			t.Errorf("%s: handler %q owner %v (found %v), want %q owner %v", tc.kind, h.name, h.owner, ok, tc.name, tc.owner)
		}
	}
	if len(table) != 19 {
		t.Errorf("the table has %d kinds, the test knows 19: add the new ones here", len(table))
	}
}

// fakeSessions is a sessionReader over a map; it counts reads.
type fakeSessions struct {
	recs  map[string]*syv1.SessionInfo
	err   error
	reads int
}

func (f *fakeSessions) Session(_ context.Context, id string) (*syv1.SessionInfo, uint64, error) {
	f.reads++
	if f.err != nil {
		return nil, 0, f.err
	}
	if r, ok := f.recs[id]; ok {
		return r, 1, nil
	}
	return nil, 0, catalog.ErrNotFound
}

// fakeSender records directed frames.
type fakeSender struct{ sent []*syv1.Envelope }

func (f *fakeSender) Send(_ context.Context, subject string, env *syv1.Envelope) error {
	if subject != bus.PodSubject(env.GetTarget().GetPod()) {
		return errors.New("sent to " + subject + ", not to the target's pod")
	}
	f.sent = append(f.sent, env)
	return nil
}

func TestDispatchOwnerCheck(t *testing.T) {
	rec := &syv1.SessionInfo{Id: "s1", UserId: "alice", RuntimeId: "rt1", Status: catalog.StatusActive}
	client := func(user string) *syv1.Route { return &syv1.Route{Pod: "gw-1", ConnId: "c1", Dialect: "client"} }
	runtimeRole := &syv1.Route{Pod: "gw-1", ConnId: "c2", Dialect: "amurg", Role: kind.RoleRuntime.String()}
	runtimeLegacy := &syv1.Route{Pod: "gw-1", ConnId: "c2", Dialect: kind.RoleRuntime.String()}
	for _, tc := range []struct {
		name      string
		kind      string
		env       *syv1.Envelope
		cached    bool
		storeErr  error
		wantRun   bool
		wantInfo  bool
		wantCode  string // directed error sent
		wantReads int
		wantErr   error
	}{
		{name: "owner", kind: "owned", env: &syv1.Envelope{SessionId: "s1", UserId: "alice", Origin: client("alice")}, wantRun: true, wantInfo: true, wantReads: 1},
		{name: "another user", kind: "owned", env: &syv1.Envelope{SessionId: "s1", UserId: "mallory", Origin: client("mallory")}, wantCode: errcode.Forbidden, wantReads: 1},
		{name: "no such session", kind: "owned", env: &syv1.Envelope{SessionId: "s2", UserId: "alice", Origin: client("alice")}, wantCode: errcode.SessionNotFound, wantReads: 1},
		{name: "runtime by role", kind: "owned", env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt1", Origin: runtimeRole}, wantRun: true, wantInfo: true, wantReads: 1},
		{name: "runtime by legacy dialect", kind: "owned", env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt1", Origin: runtimeLegacy}, wantRun: true, wantInfo: true, wantReads: 1},
		{name: "another runtime", kind: "owned", env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt2", UserId: "alice", Origin: runtimeRole}, wantCode: errcode.Forbidden, wantReads: 1},
		{name: "cached record", kind: "cached", cached: true, env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt1", Origin: runtimeRole}, wantRun: true, wantInfo: true, wantReads: 0},
		{name: "cache miss", kind: "cached", env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt1", Origin: runtimeRole}, wantRun: true, wantInfo: true, wantReads: 1},
		{name: "cached but not the sender's", kind: "cached", cached: true, env: &syv1.Envelope{SessionId: "s1", RuntimeId: "rt9", Origin: runtimeRole}, wantCode: errcode.Forbidden, wantReads: 1},
		{name: "internal", kind: "internal", env: &syv1.Envelope{SessionId: "s1"}, wantRun: true, wantReads: 0},
		{name: "store down", kind: "owned", storeErr: errors.New("kv down"), env: &syv1.Envelope{SessionId: "s1", UserId: "alice", Origin: client("alice")}, wantReads: 1, wantErr: errors.New("kv down")},
		{name: "refusal without a socket to tell", kind: "owned", env: &syv1.Envelope{SessionId: "s1", UserId: "mallory", Origin: &syv1.Route{}}, wantReads: 1},
		{name: "unknown kind", kind: "bogus", env: &syv1.Envelope{SessionId: "s1"}, wantErr: bus.ErrPoison},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeSessions{recs: map[string]*syv1.SessionInfo{"s1": rec}, err: tc.storeErr}
			out := &fakeSender{}
			s := &Service{sessions: store, out: out, records: newRecordCache(), clock: clock.NewFake(t0),
				log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if tc.cached {
				s.records.recs["s1"] = rec
			}
			ran, gotInfo := false, false
			run := func(_ context.Context, _ *syv1.Envelope, info *syv1.SessionInfo) error {
				ran, gotInfo = true, info != nil
				return nil
			}
			s.table = map[string]handler{
				"owned":    {name: "owned", owner: owner, run: run},
				"cached":   {name: "cached", owner: ownerCached, run: run},
				"internal": {name: "internal", run: run},
			}
			tc.env.Type, tc.env.Id = tc.kind, "e1"
			err := s.dispatch(context.Background(), tc.env)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("dispatch: %v", err)
			case tc.wantErr != nil && (err == nil || (!errors.Is(err, tc.wantErr) && err.Error() != tc.wantErr.Error())):
				t.Fatalf("dispatch: %v, want %v", err, tc.wantErr)
			}
			if ran != tc.wantRun || gotInfo != tc.wantInfo || store.reads != tc.wantReads {
				t.Fatalf("ran %v with record %v after %d reads; want %v, %v, %d", ran, gotInfo, store.reads, tc.wantRun, tc.wantInfo, tc.wantReads)
			}
			var code string
			if len(out.sent) == 1 {
				code = out.sent[0].GetError().GetCode()
				if e := out.sent[0]; e.GetType() != kind.Error || e.GetId() != "e1.err" || e.GetTarget() != tc.env.GetOrigin() {
					t.Fatalf("error frame %v", e)
				}
			}
			if code != tc.wantCode || len(out.sent) > 1 {
				t.Fatalf("sent %v, want one error %q", out.sent, tc.wantCode)
			}
		})
	}
}

func TestIdleWithFakeClock(t *testing.T) {
	clk := clock.NewFake(t0)
	s := &Service{clock: clk, cfg: Config{SessionIdle: time.Hour}}
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name string
		info *syv1.SessionInfo
		idle time.Duration
		want bool
	}{
		{"quiet past the limit", &syv1.SessionInfo{Status: catalog.StatusActive, LastActivity: at(-61 * time.Minute)}, time.Hour, true},
		{"quiet within the limit", &syv1.SessionInfo{Status: catalog.StatusActive, LastActivity: at(-59 * time.Minute)}, time.Hour, false},
		{"turn running", &syv1.SessionInfo{Status: catalog.StatusActive, TurnMessageId: "m", LastActivity: at(-2 * time.Hour)}, time.Hour, false},
		{"closed", &syv1.SessionInfo{Status: catalog.StatusClosed, LastActivity: at(-2 * time.Hour)}, time.Hour, false},
		{"creating", &syv1.SessionInfo{Status: catalog.StatusCreating, LastActivity: at(-2 * time.Hour)}, time.Hour, false},
		{"unreadable activity", &syv1.SessionInfo{Status: catalog.StatusActive, LastActivity: "yesterday"}, time.Hour, false},
		{"idle closing off", &syv1.SessionInfo{Status: catalog.StatusActive, LastActivity: at(-48 * time.Hour)}, 0, false},
	} {
		s.cfg.SessionIdle = tc.idle
		if got := s.idle(tc.info); got != tc.want {
			t.Errorf("%s: idle = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The same session becomes idle as the clock moves.
	s.cfg.SessionIdle = time.Hour
	info := &syv1.SessionInfo{Status: catalog.StatusActive, LastActivity: at(0)}
	if s.idle(info) {
		t.Fatal("idle at once")
	}
	clk.Advance(time.Hour + time.Millisecond)
	if !s.idle(info) {
		t.Fatal("not idle an hour later")
	}
}

func TestQuotaWindowAdmit(t *testing.T) {
	l := quotaLimits{messagesPerMinute: 3, bytesPerHour: 1000}
	now := t0.Add(30 * time.Second)
	w := quotaWindow{}
	var ok bool
	for i := 0; i < 3; i++ {
		if w, ok, _, _ = w.admit(now, 100, l); !ok {
			t.Fatalf("message %d refused", i+1)
		}
	}
	if _, ok, why, retry := w.admit(now, 100, l); ok || why != "3 user messages per minute" || retry != 30*time.Second {
		t.Fatalf("4th message in a minute: ok %v, %q, retry %s", ok, why, retry)
	}
	// The next minute: messages reset, bytes (300 of 1000 this hour) do not.
	next := now.Add(time.Minute)
	if w, ok, _, _ = w.admit(next, 600, l); !ok || w.messages != 1 || w.bytes != 900 {
		t.Fatalf("next minute: ok %v, %+v", ok, w)
	}
	if _, ok, why, retry := w.admit(next, 101, l); ok || why != "1000 transcript bytes per hour" || retry != 58*time.Minute+30*time.Second {
		t.Fatalf("over the byte quota: ok %v, %q, retry %s", ok, why, retry)
	}
	if w2, ok, _, _ := w.admit(t0.Add(time.Hour), 1000, l); !ok || w2.bytes != 1000 {
		t.Fatalf("next hour: ok %v, %+v", ok, w2)
	}
	if _, ok, _, _ := (quotaWindow{}).admit(now, 1<<40, quotaLimits{}); !ok {
		t.Fatal("no limits refused a frame")
	}
	if got := parseQuotaWindow([]byte(w.String())); got != w {
		t.Fatalf("round trip %+v → %+v", w, got)
	}
	if got := parseQuotaWindow([]byte("junk")); got != (quotaWindow{}) {
		t.Fatalf("junk parsed as %+v", got)
	}
}
