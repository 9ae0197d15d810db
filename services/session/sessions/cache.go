package sessions

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// recordCache mirrors the sy_sessions bucket in memory through a KV watch,
// so a runtime's streamed output costs no KV read per frame. It is used
// only where a slightly old record is still right: checking that a frame
// comes from the session's runtime (the runtime of a session never
// changes). Decisions on turns and status always read the bucket.
type recordCache struct {
	mu   sync.RWMutex
	recs map[string]*syv1.SessionInfo
	revs map[string]uint64 // KV revision of each record (presence.go)
}

func newRecordCache() *recordCache {
	return &recordCache{recs: map[string]*syv1.SessionInfo{}, revs: map[string]uint64{}}
}

func (c *recordCache) get(id string) *syv1.SessionInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.recs[id]
}

// follow keeps the cache in step with the bucket until ctx ends,
// re-watching after errors (NATS restarts).
func (c *recordCache) follow(ctx context.Context, b *bus.Bus) {
	for ctx.Err() == nil {
		if err := c.watch(ctx, b); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (c *recordCache) watch(ctx context.Context, b *bus.Bus) error {
	kv, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil {
				c.apply(e)
			}
		}
	}
}

func (c *recordCache) apply(e jetstream.KeyValueEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(c.recs, e.Key())
		delete(c.revs, e.Key())
		return
	}
	info := &syv1.SessionInfo{}
	if proto.Unmarshal(e.Value(), info) == nil {
		c.recs[e.Key()], c.revs[e.Key()] = info, e.Revision()
	}
}
