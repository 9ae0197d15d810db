package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// EnsureBuckets creates or updates sy_jobs and sy_job_runs (idempotent;
// every replica calls it at start-up). replicas is the JetStream replica
// count (SY_STREAM_REPLICAS).
func EnsureBuckets(ctx context.Context, b *bus.Bus, cfg Config, replicas int) (jobs, runs jetstream.KeyValue, err error) {
	if replicas < 1 {
		replicas = 1
	}
	jobs, err = bus.EnsureKV(ctx, b.JS, jetstream.KeyValueConfig{
		Bucket: bus.BucketJobs(), Description: "job name → Job (scheduled prompts)",
		History: 1, Replicas: replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: ensure bucket %s: %w", bus.BucketJobs(), err)
	}
	runs, err = bus.EnsureKV(ctx, b.JS, jetstream.KeyValueConfig{
		Bucket: bus.BucketJobRuns(), Description: "<job>.<tick unix> → JobRun (one claim per tick)",
		History: 1, Replicas: replicas, Storage: jetstream.FileStorage, TTL: cfg.RunRecordTTL,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: ensure bucket %s: %w", bus.BucketJobRuns(), err)
	}
	return jobs, runs, nil
}

// store is the job CRUD on sy_jobs.
type store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// validate checks a job as submitted (owner and created are set by the
// caller and the store).
func validate(j *syv1.Job, now time.Time) error {
	switch {
	case !bus.ValidToken(j.GetName()):
		return errorf(errcode.InvalidMessage, "name must be 1-128 letters, digits, '-' or '_'")
	case strings.TrimSpace(j.GetEndpointId()) == "" || len(j.GetEndpointId()) > maxIDBytes:
		return errorf(errcode.InvalidMessage, "endpoint_id is required (at most %d bytes)", maxIDBytes)
	case strings.TrimSpace(j.GetPrompt()) == "":
		return errorf(errcode.InvalidMessage, "prompt is required")
	case len(j.GetPrompt()) > MaxPromptBytes:
		return errorf(errcode.InvalidMessage, "prompt is longer than %d bytes", MaxPromptBytes)
	case strings.TrimSpace(j.GetOwner()) == "" || len(j.GetOwner()) > maxIDBytes:
		return errorf(errcode.InvalidMessage, "owner is required (at most %d bytes)", maxIDBytes)
	}
	if _, err := ParseSchedule(j.GetSchedule(), now); err != nil {
		return err
	}
	return nil
}

func (s *store) create(ctx context.Context, j *syv1.Job) (*syv1.Job, error) {
	now := s.now().UTC()
	j = proto.Clone(j).(*syv1.Job)
	j.Schedule = strings.TrimSpace(j.GetSchedule())
	if err := validate(j, now); err != nil {
		return nil, err
	}
	j.Created = now.Format(time.RFC3339Nano)
	data, err := proto.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("jobs: marshal job: %w", err)
	}
	if _, err := s.kv.Create(ctx, j.GetName(), data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, errorf(CodeJobExists, "a job named %q exists", j.GetName())
		}
		return nil, unavailable(err)
	}
	return j, nil
}

func (s *store) get(ctx context.Context, name string) (*syv1.Job, uint64, error) {
	if !bus.ValidToken(name) {
		return nil, 0, errorf(CodeJobNotFound, "no job named %q", name)
	}
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, errorf(CodeJobNotFound, "no job named %q", name)
	}
	if err != nil {
		return nil, 0, unavailable(err)
	}
	j := &syv1.Job{}
	if err := proto.Unmarshal(e.Value(), j); err != nil {
		return nil, 0, fmt.Errorf("jobs: decode job %s: %w", name, err)
	}
	return j, e.Revision(), nil
}

func (s *store) delete(ctx context.Context, name string) (*syv1.Job, error) {
	j, rev, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, name, jetstream.LastRevision(rev)); err != nil {
		if isCASConflict(err) {
			return nil, errorf(CodeJobNotFound, "no job named %q", name)
		}
		return nil, unavailable(err)
	}
	return j, nil
}

// list returns the jobs of owner (all when owner is empty), by name.
func (s *store) list(ctx context.Context, owner string) ([]*syv1.Job, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	defer func() { _ = lister.Stop() }()
	var out []*syv1.Job
	for key := range lister.Keys() {
		j, _, err := s.get(ctx, key)
		var je *Error
		if errors.As(err, &je) && je.Code == CodeJobNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		if owner == "" || j.GetOwner() == owner {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].GetName() < out[b].GetName() })
	return out, nil
}

func unavailable(err error) *Error {
	return errorf(errcode.Unavailable, "jobs store: %v", err)
}

// isCASConflict reports whether err is a KV compare-and-set that lost.
func isCASConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || bus.IsWrongLastSequence(err)
}
