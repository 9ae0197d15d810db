package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Permission records live in the sy_permissions bucket:
//
//	<session>.<request>          PermissionRecord (kept 7 days: later answers learn it was resolved)
//	pending.<session>.<request>  its deadline, while nobody has answered
//
// Sweeps read only the pending.* keys.
func permissionKey(session, request string) string { return session + "." + request }
func pendingKey(session, request string) string    { return "pending." + session + "." + request }

// Permission returns a permission record and its revision; nil if unknown.
func (c *Catalog) Permission(ctx context.Context, session, request string) (*syv1.PermissionRecord, uint64, error) {
	if !bus.ValidToken(session) || !bus.ValidToken(request) {
		return nil, 0, nil
	}
	rec := &syv1.PermissionRecord{}
	rev, err := get(ctx, c.perms, permissionKey(session, request), rec)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	return rec, rev, err
}

// PutPermission creates (rev 0) or compare-and-sets a record, and keeps the
// pending index in step with it.
func (c *Catalog) PutPermission(ctx context.Context, session string, rec *syv1.PermissionRecord, rev uint64) error {
	data, err := proto.Marshal(rec)
	if err != nil {
		return fmt.Errorf("catalog: marshal permission: %w", err)
	}
	req := rec.GetRequest().GetRequestId()
	if rev == 0 {
		_, err = c.perms.Create(ctx, permissionKey(session, req), data)
	} else {
		_, err = c.perms.Update(ctx, permissionKey(session, req), data, rev)
	}
	if err != nil {
		return fmt.Errorf("catalog: store permission %s/%s: %w", session, req, err)
	}
	if rec.GetResolved() {
		err = c.perms.Purge(ctx, pendingKey(session, req))
	} else {
		_, err = c.perms.Put(ctx, pendingKey(session, req), []byte(rec.GetDeadline()))
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("catalog: pending index %s/%s: %w", session, req, err)
	}
	return nil
}

// PendingPermissions returns the unanswered permission records of a session.
func (c *Catalog) PendingPermissions(ctx context.Context, session string) ([]*syv1.PermissionRecord, error) {
	var out []*syv1.PermissionRecord
	err := c.eachPending(ctx, "pending."+session+".*", func(s, req string, _ time.Time) error {
		rec, _, err := c.Permission(ctx, s, req)
		if err != nil {
			return err
		}
		if rec != nil && !rec.GetResolved() {
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// ExpiredPermission names one pending request past its deadline.
type ExpiredPermission struct{ Session, Request string }

// ExpiredPermissions lists pending requests whose deadline is before now.
func (c *Catalog) ExpiredPermissions(ctx context.Context, now time.Time) ([]ExpiredPermission, error) {
	var out []ExpiredPermission
	err := c.eachPending(ctx, "pending.>", func(s, req string, deadline time.Time) error {
		if deadline.Before(now) {
			out = append(out, ExpiredPermission{s, req})
		}
		return nil
	})
	return out, err
}

func (c *Catalog) eachPending(ctx context.Context, filter string, fn func(session, request string, deadline time.Time) error) error {
	lister, err := c.perms.ListKeysFiltered(ctx, filter)
	if err != nil {
		return fmt.Errorf("catalog: list %s: %w", filter, err)
	}
	for key := range lister.Keys() {
		parts := strings.SplitN(strings.TrimPrefix(key, "pending."), ".", 2)
		if len(parts) != 2 {
			continue
		}
		e, err := c.perms.Get(ctx, key)
		if err != nil {
			continue // resolved meanwhile
		}
		deadline, _ := time.Parse(time.RFC3339Nano, string(e.Value()))
		if err := fn(parts[0], parts[1], deadline); err != nil {
			return err
		}
	}
	return nil
}

// SyncPending makes the pending index agree with rec: present while it is
// unanswered, absent once resolved. Handlers call it on redelivery, so a
// replica that died between writing a record and its index heals it.
func (c *Catalog) SyncPending(ctx context.Context, session string, rec *syv1.PermissionRecord) error {
	req := rec.GetRequest().GetRequestId()
	var err error
	if rec.GetResolved() {
		err = c.perms.Purge(ctx, pendingKey(session, req))
	} else {
		_, err = c.perms.Put(ctx, pendingKey(session, req), []byte(rec.GetDeadline()))
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("catalog: pending index %s/%s: %w", session, req, err)
	}
	return nil
}
