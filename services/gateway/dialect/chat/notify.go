package chat

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// onNotification pushes a job notification (sy.job.notification, at least once)
// to every chat socket of the job's owner on this pod, outside any
// stream; a repeated envelope id is dropped.
func (d *Dialect) onNotification(m *nats.Msg) {
	_, env, err := bus.Decode(context.Background(), m.Data, m.Header)
	if err != nil || env.GetJobNotification() == nil {
		d.s.Log().Warn("undecodable job notification", "err", err)
		return
	}
	if id := env.GetId(); id != "" && !d.seen.add(id) {
		return
	}
	owner := env.GetJobNotification().GetOwner()
	if owner == "" {
		owner = env.GetUserId()
	}
	if owner == "" {
		return
	}
	d.s.Broadcast(env, func(c *edge.Conn) bool {
		return c.Dialect() == Name && c.Principal() == owner && stateOf(c).authOK
	})
}

// recent remembers the last n ids (a ring), for dropping repeats.
type recent struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent {
	return &recent{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id; false if it was seen already.
func (r *recent) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next], r.ids[id] = id, struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}
