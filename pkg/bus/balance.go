package bus

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// Balancing partitions over replicas. A pinned partition stays with the
// replica that pulled it first, so without this the first replica to start
// would own every partition. Every replica announces itself on
// SubjPartitionMembers(durable) each second; the live members, sorted, own
// partition i at members[i mod n]. A replica that owns a busy partition that
// is not its own hands it over: it drains what it pulled, acks it, unpins
// (only with nothing unacked, as Stop does), and consumes the partition
// again as a stand-by, so the waiting replicas' pulls get the pin first.
// Order holds through a handover exactly as through a stop.

// Balancing timings.
const (
	announceEvery   = time.Second
	memberTTL       = 3 * announceEvery
	rebalanceEvery  = 2 * time.Second
	handoverBackoff = 10 * time.Second // per partition: no ping-pong while views of the members differ
)

// SubjPartitionMembers is where the replicas consuming durable's
// partitions announce themselves (payload: the member name; "-" + name
// when it leaves).
func SubjPartitionMembers(durable string) string {
	return namespace.Subject("sy.svc.partitions." + durable)
}

type balancer struct {
	parts  *Partitions
	member string
	subj   string
	sub    *nats.Subscription

	mu      sync.Mutex
	members map[string]time.Time
	movedAt map[int]time.Time
	// counted is each partition's handled count at the last round: a
	// partition is busy here when it moved since (idle partitions cost
	// nothing wherever they are pinned).
	counted map[int]uint64

	done chan struct{}
	wg   sync.WaitGroup // the loop and handovers in progress
}

func startBalancer(parts *Partitions, durable, member string) (*balancer, error) {
	b := &balancer{parts: parts, member: member, subj: SubjPartitionMembers(durable),
		members: map[string]time.Time{member: time.Now()}, movedAt: map[int]time.Time{}, counted: map[int]uint64{}, done: make(chan struct{})}
	sub, err := parts.nc.Subscribe(b.subj, b.heard)
	if err != nil {
		return nil, err
	}
	b.sub = sub
	b.announce(member)
	b.wg.Add(1)
	go b.loop()
	return b, nil
}

func (b *balancer) heard(m *nats.Msg) {
	name := string(m.Data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if left, ok := strings.CutPrefix(name, "-"); ok {
		delete(b.members, left)
		return
	}
	if name != "" {
		b.members[name] = time.Now()
	}
}

func (b *balancer) announce(payload string) { _ = b.parts.nc.Publish(b.subj, []byte(payload)) }

func (b *balancer) loop() {
	defer b.wg.Done()
	announce := time.NewTicker(announceEvery)
	defer announce.Stop()
	rebalance := time.NewTicker(rebalanceEvery)
	defer rebalance.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-announce.C:
			b.announce(b.member)
		case <-rebalance.C:
			b.rebalance()
		}
	}
}

// live is the sorted names of the members heard from within memberTTL.
func (b *balancer) live() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members[b.member] = time.Now()
	var out []string
	for name, seen := range b.members {
		if time.Since(seen) <= memberTTL {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// rebalance hands over every busy partition owned here that belongs to
// another member.
func (b *balancer) rebalance() {
	members := b.live()
	for i, part := range b.parts.parts {
		busy := b.busy(i, part)
		if len(members) < 2 || members[i%len(members)] == b.member || !busy || !b.mayMove(i, part) {
			continue
		}
		b.wg.Add(1)
		go b.handOver(part)
	}
}

// busy reports whether part handled a message here since the last round.
func (b *balancer) busy(i int, part *partition) bool {
	n := part.handled.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	moved := n != b.counted[i]
	b.counted[i] = n
	return moved
}

// mayMove: no handler retrying, and no handover of part this recently.
func (b *balancer) mayMove(i int, part *partition) bool {
	if part.retrying.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.movedAt[i]) < handoverBackoff {
		return false
	}
	b.movedAt[i] = time.Now()
	return true
}

// handOver drains part, unpins it when nothing is unacked and consumes it
// again as a stand-by.
func (b *balancer) handOver(part *partition) {
	defer b.wg.Done()
	cc := part.consuming()
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-b.done:
		return // Stop drains and unpins
	}
	b.parts.release(part)
	part.newEpoch()
	// A fresh handle: the old one would send its pin id with every pull.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := b.parts.stream.Consumer(ctx, part.name)
	if err == nil {
		err = part.start(cons)
	}
	if err != nil {
		b.parts.log.Error("partition not consumed again after a handover; it is served by the other replicas", "consumer", part.name, "err", err)
		return
	}
	b.parts.log.Info("partition handed over", "consumer", part.name)
}

// close stops balancing and waits for handovers in progress, then tells the
// other members this one is leaving.
func (b *balancer) close() {
	close(b.done)
	b.wg.Wait()
	_ = b.sub.Unsubscribe()
	b.announce("-" + b.member)
}
