// Package catalog keeps the durable records of sessions and endpoints in
// JetStream KV buckets. The session service writes sessions, the relay
// writes endpoints, gateways read both (authorization, REST) and raise the
// seq floor of sessions whose output they append (Floors).
package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// ErrNotFound is returned for a missing session or endpoint.
var ErrNotFound = errors.New("catalog: not found")

// Session states.
const (
	StatusCreating = "creating"
	StatusActive   = "active"
	StatusClosed   = "closed"
)

// Catalog reads and writes session and endpoint records.
type Catalog struct {
	sessions  jetstream.KeyValue
	endpoints jetstream.KeyValue
	perms     jetstream.KeyValue
}

// Open binds to the buckets created by bus.EnsureStreams.
func Open(ctx context.Context, b *bus.Bus) (*Catalog, error) {
	s, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		return nil, err
	}
	e, err := b.KV(ctx, bus.BucketEndpoints())
	if err != nil {
		return nil, err
	}
	p, err := b.KV(ctx, bus.BucketPermissions())
	if err != nil {
		return nil, err
	}
	return &Catalog{sessions: s, endpoints: e, perms: p}, nil
}

// Session returns a session record and its revision.
func (c *Catalog) Session(ctx context.Context, id string) (*syv1.SessionInfo, uint64, error) {
	if !bus.ValidToken(id) {
		return nil, 0, ErrNotFound
	}
	info := &syv1.SessionInfo{}
	rev, err := get(ctx, c.sessions, id, info)
	return info, rev, err
}

// CreateSession stores a new session record; it fails if the id exists.
func (c *Catalog) CreateSession(ctx context.Context, info *syv1.SessionInfo) error {
	data, err := proto.Marshal(info)
	if err != nil {
		return fmt.Errorf("catalog: marshal session: %w", err)
	}
	if _, err := c.sessions.Create(ctx, info.GetId(), data); err != nil {
		return fmt.Errorf("catalog: create session %s: %w", info.GetId(), err)
	}
	return nil
}

// UpdateSession applies fn to the current record and stores it with a
// compare-and-set, retrying on conflicts. fn returning false leaves the
// record unchanged.
func (c *Catalog) UpdateSession(ctx context.Context, id string, fn func(*syv1.SessionInfo) bool) (*syv1.SessionInfo, error) {
	for attempt := 0; attempt < 16; attempt++ {
		info, rev, err := c.Session(ctx, id)
		if err != nil {
			return nil, err
		}
		if !fn(info) {
			return info, nil
		}
		data, err := proto.Marshal(info)
		if err != nil {
			return nil, fmt.Errorf("catalog: marshal session: %w", err)
		}
		_, err = c.sessions.Update(ctx, id, data, rev)
		if bus.IsWrongLastSequence(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: update session %s: %w", id, err)
		}
		return info, nil
	}
	return nil, fmt.Errorf("catalog: update session %s: too many concurrent writers", id)
}

// Sessions lists every session record.
func (c *Catalog) Sessions(ctx context.Context) ([]*syv1.SessionInfo, error) {
	var out []*syv1.SessionInfo
	err := list(ctx, c.sessions, func(data []byte) error {
		info := &syv1.SessionInfo{}
		if err := proto.Unmarshal(data, info); err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	return out, err
}

// PutEndpoint stores an endpoint record.
func (c *Catalog) PutEndpoint(ctx context.Context, rec *syv1.EndpointRecord) error {
	data, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("catalog: marshal endpoint: %w", err)
	}
	if _, err := c.endpoints.Put(ctx, rec.GetEndpoint().GetId(), data); err != nil {
		return fmt.Errorf("catalog: put endpoint %s: %w", rec.GetEndpoint().GetId(), err)
	}
	return nil
}

// Endpoint returns one endpoint record.
func (c *Catalog) Endpoint(ctx context.Context, id string) (*syv1.EndpointRecord, error) {
	if !bus.ValidToken(id) {
		return nil, ErrNotFound
	}
	rec := &syv1.EndpointRecord{}
	_, err := get(ctx, c.endpoints, id, rec)
	return rec, err
}

// Endpoints lists every endpoint record.
func (c *Catalog) Endpoints(ctx context.Context) ([]*syv1.EndpointRecord, error) {
	var out []*syv1.EndpointRecord
	err := list(ctx, c.endpoints, func(data []byte) error {
		rec := &syv1.EndpointRecord{}
		if err := proto.Unmarshal(data, rec); err != nil {
			return err
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

func get(ctx context.Context, kv jetstream.KeyValue, key string, into proto.Message) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: get %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := proto.Unmarshal(e.Value(), into); err != nil {
		return 0, fmt.Errorf("catalog: decode %s/%s: %w", kv.Bucket(), key, err)
	}
	return e.Revision(), nil
}

func list(ctx context.Context, kv jetstream.KeyValue, each func([]byte) error) error {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("catalog: list %s: %w", kv.Bucket(), err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-w.Updates():
			if e == nil { // initial values delivered
				return nil
			}
			if err := each(e.Value()); err != nil {
				return fmt.Errorf("catalog: decode %s/%s: %w", kv.Bucket(), e.Key(), err)
			}
		}
	}
}

// ErrConflict is returned by a compare-and-set write whose record changed
// since it was read.
var ErrConflict = errors.New("catalog: record changed meanwhile")

// EndpointRev returns one endpoint record and its revision (ErrNotFound
// when there is none).
func (c *Catalog) EndpointRev(ctx context.Context, id string) (*syv1.EndpointRecord, uint64, error) {
	if !bus.ValidToken(id) {
		return nil, 0, ErrNotFound
	}
	rec := &syv1.EndpointRecord{}
	rev, err := get(ctx, c.endpoints, id, rec)
	return rec, rev, err
}

// PutEndpointRev stores rec only if the stored record is still at revision
// rev (0: only if there is none yet); otherwise it returns ErrConflict. The
// relay uses it so two runtimes claiming one endpoint cannot both win.
func (c *Catalog) PutEndpointRev(ctx context.Context, rec *syv1.EndpointRecord, rev uint64) error {
	id := rec.GetEndpoint().GetId()
	data, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("catalog: marshal endpoint: %w", err)
	}
	if rev == 0 {
		_, err = c.endpoints.Create(ctx, id, data)
	} else {
		_, err = c.endpoints.Update(ctx, id, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || bus.IsWrongLastSequence(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("catalog: put endpoint %s: %w", id, err)
	}
	return nil
}
