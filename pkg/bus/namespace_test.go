package bus_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Two namespaces on one NATS server: each gets its own streams (subjects
// prefixed), a transcript append of one is republished on its own live
// subject only, and the default namespace is untouched.
func TestNamespacedStreams(t *testing.T) {
	t.Cleanup(func() { _ = namespace.Set("") })
	n := testenv.NATS(t)
	b := connect(t, n.URL(), "test")
	ctx := testCtx(t, 20*time.Second)
	live := map[string]chan string{}
	for _, ns := range []string{"blue", "green"} {
		if err := namespace.Set(ns); err != nil {
			t.Fatal(err)
		}
		if err := b.EnsureStreams(ctx, bus.Limits{Owner: true}); err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		ch := make(chan string, 4)
		live[ns] = ch
		sub, err := b.NC.Subscribe(bus.LiveSubject("s1"), func(m *nats.Msg) { ch <- m.Subject })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	for _, ns := range []string{"blue", "green"} {
		_ = namespace.Set(ns)
		st, err := b.JS.Stream(ctx, bus.StreamInbound())
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		if got := st.CachedInfo().Config; got.Name != ns+"_SY_IN" || got.Subjects[0] != ns+".sy.in.>" {
			t.Errorf("%s inbound stream: %s %v", ns, got.Name, got.Subjects)
		}
		if got := bus.InboundSubject(4, "s1"); got[:len(ns)+1] != ns+"." {
			t.Errorf("%s inbound subject %q", ns, got)
		}
		if _, err := b.KV(ctx, bus.BucketSessions()); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
	}
	_ = namespace.Set("blue")
	if _, err := b.Publish(ctx, bus.TranscriptSubject("s1"), &syv1.Envelope{Id: "e1", Type: "agent.output", SessionId: "s1"}); err != nil {
		t.Fatal(err)
	}
	if got := <-live["blue"]; got != "blue.sy.live.s1" || bus.SessionFromLiveSubject(got) != "s1" {
		t.Errorf("blue live subject %q", got)
	}
	b.NC.Flush()
	select {
	case got := <-live["green"]:
		t.Errorf("green received blue's append on %s", got)
	default:
	}
	_ = namespace.Set("")
	if _, err := b.JS.Stream(ctx, bus.StreamInbound()); err != jetstream.ErrStreamNotFound {
		t.Errorf("unprefixed %s: %v, want not found", bus.StreamInbound(), err)
	}
}
