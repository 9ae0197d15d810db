package jobs

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// A replica that was only stalled, not dead, cannot report a tick another
// replica took over: its CAS fails and is not mistaken for its own lost
// write. A write of its own whose answer was lost is recognised.
func TestStaleHolderCannotReport(t *testing.T) {
	url := testenv.NATS(t).URL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, runs, err := EnsureBuckets(ctx, testenv.Bus(t, url, "a"), testConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &Scheduler{runs: runs}
	b := &Scheduler{runs: runs}
	mine := &syv1.JobRun{Job: &syv1.Job{Name: "j"}, State: StateClaimed, Replica: "a", Attempt: 1, Started: "t1"}
	data, _ := proto.Marshal(mine)
	rev, err := runs.Create(ctx, "j.1", data)
	if err != nil {
		t.Fatal(err)
	}
	// a renews, but pretends the answer was lost: it still holds rev.
	renewed := proto.Clone(mine).(*syv1.JobRun)
	renewed.LeaseUntil = "later"
	if _, err := a.write(ctx, "j.1", renewed, rev); err != nil {
		t.Fatal(err)
	}
	if _, err := a.write(ctx, "j.1", renewed, rev); err != nil {
		t.Fatalf("a's own landed write was not recognised: %v", err)
	}
	e, _ := runs.Get(ctx, "j.1")
	// b takes over with the revision it saw.
	taken := proto.Clone(renewed).(*syv1.JobRun)
	taken.Replica, taken.Attempt, taken.Started = "b", 2, "t2"
	if _, err := b.write(ctx, "j.1", taken, e.Revision()); err != nil {
		t.Fatal(err)
	}
	done := proto.Clone(renewed).(*syv1.JobRun)
	done.State = StateDone
	if _, err := a.write(ctx, "j.1", done, e.Revision()); !isCASConflict(err) {
		t.Fatalf("stale holder's result write: %v, want a CAS conflict", err)
	}
	e, _ = runs.Get(ctx, "j.1")
	cur := &syv1.JobRun{}
	_ = proto.Unmarshal(e.Value(), cur)
	if cur.GetReplica() != "b" || cur.GetState() != StateClaimed {
		t.Errorf("record after the stale write: %+v", cur)
	}
}
