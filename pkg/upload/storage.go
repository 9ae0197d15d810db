package upload

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

// StorageLimits size the upload stream and bucket.
type StorageLimits struct {
	Replicas int
	// MaxBytes bounds the chunk stream (-1 or 0: unlimited). When full,
	// new chunks are refused (unavailable); nothing stored is dropped.
	MaxBytes int64
}

// EnsureStorage creates or updates the chunk stream and the bucket. The
// upload service calls it at start-up; it is idempotent.
func EnsureStorage(ctx context.Context, js jetstream.JetStream, l StorageLimits) error {
	if l.Replicas <= 0 {
		l.Replicas = 1
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = -1
	}
	sc := jetstream.StreamConfig{
		Name:        bus.StreamUploads(),
		Description: "upload chunks: sy.upc.<upload>.<file index>.<offset>.<length>",
		Subjects:    []string{bus.PrefixUploadChunks() + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    l.Replicas,
		// One message per subject: a chunk sent again replaces itself.
		MaxMsgsPerSubject: 1,
		MaxBytes:          l.MaxBytes,
		Discard:           jetstream.DiscardNew,
		Duplicates:        2 * time.Minute,
		AllowDirect:       true,
	}
	if err := bus.EnsureStream(ctx, js, sc, true); err != nil {
		return fmt.Errorf("upload: ensure stream %s: %w", sc.Name, err)
	}
	if _, err := bus.EnsureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket: bus.BucketUploads(), Description: "upload manifests, stored ranges, totals, download grants",
		History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("upload: ensure bucket %s: %w", bus.BucketUploads(), err)
	}
	return bus.WaitReadable(ctx, js, sc.Name, "KV_"+bus.BucketUploads())
}
