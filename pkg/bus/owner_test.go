package bus_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Partition owners: one replica at a time is pinned to a partition and
// holds up to Window of its messages; a crash, a stop and a handler that
// keeps failing each hand the partition over without reordering it.

const ownerAckWait = time.Second

// ownerReplica consumes one partition of SY_RT over a connection of its
// own, recording what it handles before its handler h (nil: succeed) runs.
type ownerReplica struct {
	b     *bus.Bus
	p     *bus.Partitions
	calls *recorder
}

func startOwner(t *testing.T, ctx context.Context, url, name string, window int, h bus.Handler) *ownerReplica {
	t.Helper()
	r := &ownerReplica{b: connect(t, url, name), calls: newRecorder()}
	p, err := r.b.ConsumePartitions(ctx, bus.PartitionOptions{Stream: bus.StreamRuntime(), Durable: "relay", Partitions: 1,
		AckWait: ownerAckWait, Window: window, Log: discard}, func(ctx context.Context, env *syv1.Envelope) error {
		r.calls.add(env.GetId())
		if h != nil {
			return h(ctx, env)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	t.Cleanup(p.Stop)
	return r
}

func publishN(t *testing.T, ctx context.Context, b *bus.Bus, from, to int) []string {
	t.Helper()
	var ids []string
	for i := from; i < to; i++ {
		id := "m" + strconv.Itoa(i)
		if _, err := b.Publish(ctx, bus.RuntimeSubject(1, "s1"), &syv1.Envelope{Id: id, Type: "x", SessionId: "s1"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// consumerInfo is the state of partition 0's consumer of SY_RT (Durable
// "relay", as consumeOne and startOwner consume it).
func consumerInfo(t *testing.T, ctx context.Context, b *bus.Bus) *jetstream.ConsumerInfo {
	t.Helper()
	st, err := b.JS.Stream(ctx, bus.StreamRuntime())
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Consumer(ctx, bus.PartitionConsumer("relay", 0))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// The owner pulls ahead (Window messages unacked at once) but hands them
// to the handler one at a time, in order.
func TestPartitionOwnerPullsAhead(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 30*time.Second)
	release := make(chan struct{})
	own := startOwner(t, ctx, url, "a", 8, func(context.Context, *syv1.Envelope) error {
		<-release
		return nil
	})
	ids := publishN(t, ctx, pub, 0, 10)
	own.calls.expect(t, ctx, "m0")
	for consumerInfo(t, ctx, pub).NumAckPending != 8 {
		if ctx.Err() != nil {
			t.Fatalf("ack pending %d, want the window (8)", consumerInfo(t, ctx, pub).NumAckPending)
		}
		time.Sleep(10 * time.Millisecond) // no event for "pulled"
	}
	close(release)
	own.calls.expect(t, ctx, ids[1:]...)
}

// A crashed owner (its connection gone, nothing acked) loses the partition
// after PinnedTTL; the replica that waited gets every message the dead one
// held, from the first, in order, before anything newer.
func TestPartitionOwnerCrashHandsOverInOrder(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 60*time.Second)
	stuck := make(chan struct{})
	a := startOwner(t, ctx, url, "a", 32, func(context.Context, *syv1.Envelope) error {
		<-stuck
		return errors.New("connection gone")
	})
	defer close(stuck)
	ids := publishN(t, ctx, pub, 0, 20)
	a.calls.expect(t, ctx, "m0") // a owns the partition and holds m0…m19
	b := startOwner(t, ctx, url, "b", 32, nil)
	a.b.NC.Close() // as kill -9: no ack, no unpin
	crashed := time.Now()
	ids = append(ids, publishN(t, ctx, pub, 20, 25)...)
	b.calls.expect(t, ctx, ids...)
	if took := time.Since(crashed); took > bus.PinnedTTL(ownerAckWait)+5*time.Second {
		t.Errorf("handover took %v (pinned TTL %v)", took, bus.PinnedTTL(ownerAckWait))
	}
}

// A stopped owner acks what it handled and unpins: the next replica gets
// the partition at once, not after PinnedTTL.
func TestPartitionOwnerStopHandsOverAtOnce(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 30*time.Second)
	a := startOwner(t, ctx, url, "a", 32, nil)
	a.calls.expect(t, ctx, publishN(t, ctx, pub, 0, 5)...)
	b := startOwner(t, ctx, url, "b", 32, nil)
	a.p.Stop()
	stopped := time.Now()
	b.calls.expect(t, ctx, publishN(t, ctx, pub, 5, 10)...)
	if took := time.Since(stopped); took >= bus.PinnedTTL(ownerAckWait) {
		t.Errorf("handover after Stop took %v: it waited for the pin to expire", took)
	}
}

// Stop abandons a handler that keeps failing; nothing behind it is handled
// by that replica, and the next owner starts from the abandoned message.
func TestPartitionOwnerStopAbandonsRetry(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 60*time.Second)
	a := startOwner(t, ctx, url, "a", 32, func(context.Context, *syv1.Envelope) error { return errors.New("store down") })
	ids := publishN(t, ctx, pub, 0, 5)
	a.calls.expect(t, ctx, "m0", "m0") // retried in place
	b := startOwner(t, ctx, url, "b", 32, nil)
	a.p.Stop()
	b.calls.expect(t, ctx, ids...)
	a.calls.mu.Lock()
	defer a.calls.mu.Unlock()
	for _, id := range a.calls.calls {
		if id != "m0" {
			t.Fatalf("the stopped replica handled %s after abandoning m0 (calls %v)", id, a.calls.calls)
		}
	}
}

// The shared consumer of earlier versions (MaxAckPending 1, no owner) is
// replaced on start-up; what it had not delivered is consumed.
func TestPartitionsReplaceLegacyConsumer(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 30*time.Second)
	st, err := pub.JS.Stream(ctx, bus.StreamRuntime())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "relay-p0", FilterSubject: bus.RuntimeSubject(1, "s1"),
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, DeliverPolicy: jetstream.DeliverAllPolicy}); err != nil {
		t.Fatal(err)
	}
	ids := publishN(t, ctx, pub, 0, 3)
	own := startOwner(t, ctx, url, "a", 32, nil)
	own.calls.expect(t, ctx, ids...)
	if _, err := st.Consumer(ctx, "relay-p0"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("legacy consumer still there: %v", err)
	}
	if ci := consumerInfo(t, ctx, pub); ci.Config.PriorityPolicy != jetstream.PriorityPolicyPinned || ci.Config.MaxAckPending != 32 {
		t.Errorf("consumer config %+v", ci.Config)
	}
}

// Replicas with member names share the partitions: the first one owns all
// of them until the second announces itself, then hands the second its
// half (members sorted, partition i to member i mod n) without losing,
// doubling or reordering a message; a member that stops hands its half
// back at once.
func TestPartitionsBalanceOverMembers(t *testing.T) {
	url, pub := stack(t)
	ctx := testCtx(t, 60*time.Second)
	const partitions = 4
	var (
		mu         sync.Mutex
		handled    = map[string][]string{} // session → ids in handling order
		byPart     = map[string]map[int]int{}
		handledOne = make(chan struct{}, 1) // a message was handled
	)
	start := func(member string) *bus.Partitions {
		b := connect(t, url, member)
		p, err := b.ConsumePartitions(ctx, bus.PartitionOptions{Stream: bus.StreamRuntime(), Durable: "relay", Partitions: partitions,
			AckWait: ownerAckWait, Member: member, Log: discard}, func(_ context.Context, env *syv1.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			handled[env.GetSessionId()] = append(handled[env.GetSessionId()], env.GetId())
			if byPart[member] == nil {
				byPart[member] = map[int]int{}
			}
			byPart[member][bus.Partition(env.GetSessionId(), partitions)]++
			select {
			case handledOne <- struct{}{}:
			default:
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		return p
	}
	sessions := []string{}
	for i := 0; len(sessions) < 8; i++ { // two sessions on every partition
		sid := "s" + strconv.Itoa(i)
		n := 0
		for _, s := range sessions {
			if bus.Partition(s, partitions) == bus.Partition(sid, partitions) {
				n++
			}
		}
		if n < 2 {
			sessions = append(sessions, sid)
		}
	}
	sent := map[string][]string{}
	round := 0
	publishRound := func() {
		for _, sid := range sessions {
			id := sid + "-" + strconv.Itoa(round)
			if _, err := pub.Publish(ctx, bus.RuntimeSubject(partitions, sid), &syv1.Envelope{Id: id, Type: "x", SessionId: sid}); err != nil {
				t.Fatal(err)
			}
			sent[sid] = append(sent[sid], id)
		}
		round++
	}
	// until pred holds, keep the partitions busy (a balancer moves only
	// partitions with traffic), a round every 50 ms
	until := func(what string, pred func() bool) {
		t.Helper()
		for {
			publishRound()
			mu.Lock()
			ok := pred()
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: handled by partition %v", what, byPart)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	a := start("a")
	until("a owns every partition", func() bool { return len(byPart["a"]) == partitions })
	start("b")
	// Members [a b]: partitions 0 and 2 stay with a, 1 and 3 go to b.
	until("b owns partitions 1 and 3", func() bool {
		return byPart["b"][1] > 0 && byPart["b"][3] > 0
	})
	mu.Lock()
	for p := range byPart["b"] {
		if p%2 == 0 {
			t.Errorf("b handled partition %d, which belongs to a", p)
		}
	}
	aBefore := byPart["a"][1] + byPart["a"][3]
	mu.Unlock()
	a.Stop()
	until("b owns partitions 0 and 2 after a stopped", func() bool {
		return byPart["b"][0] > 0 && byPart["b"][2] > 0
	})
	// everything sent is handled exactly once, in order
	for {
		mu.Lock()
		n := 0
		for _, ids := range handled {
			n += len(ids)
		}
		mu.Unlock()
		want := len(sessions) * round
		if n >= want {
			break
		}
		select {
		case <-handledOne:
		case <-ctx.Done():
			t.Fatalf("handled %d of %d", n, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, sid := range sessions {
		if !slices.Equal(handled[sid], sent[sid]) {
			t.Errorf("session %s handled %v, sent %v", sid, handled[sid], sent[sid])
		}
	}
	t.Logf("rounds %d; by member and partition %v (a's messages of 1 and 3 before the handover %d)", round, byPart, aBefore)
}
