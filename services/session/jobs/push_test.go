package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Every finished run is also a UserNotification on the push channels'
// subject, scoped to the owner, with the tick's fixed id, rendering as the
// document's Type 2 frame; a failed run says so in its title and details.
func TestRunPublishesUserNotification(t *testing.T) {
	url := testenv.NATS(t).URL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	pushed := make(chan *syv1.Envelope, 64)
	if _, err := nc.Subscribe(push.Subject(push.KindUserNotification), func(m *nats.Msg) {
		env := &syv1.Envelope{}
		if err := proto.Unmarshal(m.Data, env); err != nil {
			t.Errorf("undecodable push event: %v", err)
			return
		}
		pushed <- env
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	rc := newRecorder()
	r := startReplica(t, url, "replica-push", rc.runner("r", func(_ context.Context, c call) (string, string, error) {
		if c.info.Job == "p2" {
			return "", "", &codedErr{errcode.RuntimeOffline, "no runtime online for ep-1"}
		}
		return "sess-ok", "all good", nil
	}), testConfig(), nil)
	notes := notifications(t, url)
	createJob(t, r.bus, "p1", "@every 1s")
	n := next(t, notes, "p1", 10*time.Second)
	env := nextPush(t, pushed, "p1")
	if env.GetId() != PushID(tickKey("p1", n)) || env.GetType() != push.KindUserNotification || env.GetUserId() != n.GetOwner() {
		t.Fatalf("push envelope: id %q type %q user %q (tick %s)", env.GetId(), env.GetType(), env.GetUserId(), n.GetTick())
	}
	un := env.GetUserNotification()
	if un.GetScope().GetUserId() != n.GetOwner() || un.GetCategory() != "job" || un.GetTitle() != "Job p1 finished" || un.GetMessage() != "all good" {
		t.Fatalf("user notification: %v", un)
	}
	ev, err := push.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	var frame struct {
		Type int
		Data struct {
			Category, Title, Message string
			Details                  map[string]any
		}
	}
	if err := json.Unmarshal(ev.JSON, &frame); err != nil {
		t.Fatalf("frame %s: %v", ev.JSON, err)
	}
	if frame.Type != 2 || frame.Data.Category != "job" || frame.Data.Details["session_id"] != "sess-ok" || frame.Data.Details["success"] != true {
		t.Fatalf("rendered frame: %s", ev.JSON)
	}
	deleteJob(t, r.bus, "p1")

	createJob(t, r.bus, "p2", "@every 1s")
	next(t, notes, "p2", 10*time.Second)
	un = nextPush(t, pushed, "p2").GetUserNotification()
	d := un.GetDetails().AsMap()
	if un.GetTitle() != "Job p2 failed" || d["success"] != false || d["session_id"] != "" || d["error_code"] != errcode.RuntimeOffline {
		t.Fatalf("failed run's user notification: %v", un)
	}
	deleteJob(t, r.bus, "p2")
}

func nextPush(t *testing.T, ch <-chan *syv1.Envelope, job string) *syv1.Envelope {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case env := <-ch:
			if env.GetUserNotification().GetDetails().AsMap()["job_name"] == job {
				return env
			}
		case <-timeout:
			t.Fatalf("no user notification of %s", job)
		}
	}
}
