package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// Limits of the streams and buckets, from the service configuration.
type Limits struct {
	Replicas int
	// DedupeWindow is how long a Nats-Msg-Id is remembered.
	DedupeWindow time.Duration
	// TranscriptMaxAge and TranscriptMaxBytes bound the transcript stream.
	TranscriptMaxAge   time.Duration
	TranscriptMaxBytes int64
	// TranscriptMaxMsgsPerSession caps one session's stored messages (the
	// stream's MaxMsgsPerSubject): a session over it loses its own oldest
	// entries, never another session's. -1: no cap.
	TranscriptMaxMsgsPerSession int64
	// FilesMaxBytes bounds the file object store (-1: unlimited).
	FilesMaxBytes int64
	// Owner: these limits are the configured ones and replace a stream's
	// existing configuration (the session service, which reads the
	// SY_TRANSCRIPT_* settings). Other services only create what is
	// missing, so a gateway started later never resets the transcript
	// limits to the defaults.
	Owner bool
}

// DefaultLimits are used when a field is zero.
var DefaultLimits = Limits{
	Replicas:           1,
	DedupeWindow:       2 * time.Minute,
	TranscriptMaxAge:   30 * 24 * time.Hour,
	TranscriptMaxBytes: 8 << 30,
	// 100,000 messages per session.
	TranscriptMaxMsgsPerSession: 100_000,
	FilesMaxBytes:               -1,
}

func (l Limits) withDefaults() Limits {
	if l.Replicas <= 0 {
		l.Replicas = DefaultLimits.Replicas
	}
	if l.DedupeWindow <= 0 {
		l.DedupeWindow = DefaultLimits.DedupeWindow
	}
	if l.TranscriptMaxAge <= 0 {
		l.TranscriptMaxAge = DefaultLimits.TranscriptMaxAge
	}
	if l.TranscriptMaxBytes <= 0 {
		l.TranscriptMaxBytes = DefaultLimits.TranscriptMaxBytes
	}
	if l.TranscriptMaxMsgsPerSession == 0 {
		l.TranscriptMaxMsgsPerSession = DefaultLimits.TranscriptMaxMsgsPerSession
	}
	if l.FilesMaxBytes == 0 {
		l.FilesMaxBytes = DefaultLimits.FilesMaxBytes
	}
	return l
}

// QuotaBucketTTL outlives the longest quota window (one hour).
const QuotaBucketTTL = 2 * time.Hour

// EnsureStreams creates or updates Switchyard's streams and KV buckets.
// Every service calls it at start-up; it is idempotent.
func (b *Bus) EnsureStreams(ctx context.Context, l Limits) error {
	l = l.withDefaults()
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamInbound(),
			Description: "gateway → session service: runtime events and client commands",
			Subjects:    []string{namespace.Subject(prefixInbound + ">")},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
			Duplicates:  l.DedupeWindow,
			MaxAge:      24 * time.Hour,
		},
		{
			Name:        StreamRuntime(),
			Description: "session service → relay: hub-to-runtime commands",
			Subjects:    []string{namespace.Subject(prefixRuntime + ">")},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
			Duplicates:  l.DedupeWindow,
			MaxAge:      24 * time.Hour,
		},
		{
			Name:        StreamTranscript(),
			Description: "per-session transcripts, one subject per session",
			Subjects:    []string{namespace.Subject(prefixTranscript + ">")},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
			Duplicates:  l.DedupeWindow,
			MaxAge:      l.TranscriptMaxAge,
			MaxBytes:    l.TranscriptMaxBytes,
			AllowDirect: true,
			// Per-session cap: a session's oldest entries go first, never
			// another session's (issue 9).
			MaxMsgsPerSubject: l.TranscriptMaxMsgsPerSession,
			// Live fan-out (LiveSubject) carries exactly what was stored,
			// with the stored seq: a publish to sy.evt.<session> that the
			// stream refused (duplicate, wrong expected sequence) is also
			// a core message, which gateways must never follow.
			RePublish: &jetstream.RePublish{Source: namespace.Subject(prefixTranscript + ">"), Destination: namespace.Subject(prefixLive + ">")},
		},
	}
	for _, sc := range streams {
		if err := EnsureStream(ctx, b.JS, sc, l.Owner); err != nil {
			return fmt.Errorf("bus: ensure stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range []jetstream.KeyValueConfig{
		{Bucket: BucketSessions(), Description: "session id → SessionInfo", History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage},
		{Bucket: BucketEndpoints(), Description: "endpoint id → EndpointRecord", History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage},
		{Bucket: BucketPermissions(), Description: "<session>.<request> → PermissionRecord", History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage, TTL: 7 * 24 * time.Hour},
		{Bucket: BucketTokens(), Description: "runtime tokens (hashed) and revocations", History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage},
		{Bucket: BucketQuotas(), Description: "per-user message and transcript-byte counters (fixed windows)", History: 1, Replicas: l.Replicas, Storage: jetstream.FileStorage, TTL: QuotaBucketTTL},
	} {
		if _, err := EnsureKV(ctx, b.JS, kc); err != nil {
			return fmt.Errorf("bus: ensure bucket %s: %w", kc.Bucket, err)
		}
	}
	if err := ensureObjectStore(ctx, b.JS, jetstream.ObjectStoreConfig{
		Bucket: BucketFiles(), Description: "files uploaded by users and produced by runtimes",
		Replicas: l.Replicas, Storage: jetstream.FileStorage, MaxBytes: l.FilesMaxBytes,
	}); err != nil {
		return fmt.Errorf("bus: ensure object store %s: %w", BucketFiles(), err)
	}
	names := []string{"KV_" + BucketSessions(), "KV_" + BucketEndpoints(), "KV_" + BucketPermissions(), "KV_" + BucketTokens(), "KV_" + BucketQuotas(), "OBJ_" + BucketFiles()}
	for _, sc := range streams {
		names = append(names, sc.Name)
	}
	return WaitReadable(ctx, b.JS, names...)
}

// WaitReadable returns once every named stream answers its info request.
// On a JetStream cluster a stream another process has just created can
// answer "not found" for a moment (its group has no leader yet), and a
// service opening its buckets right after EnsureStreams would exit.
func WaitReadable(ctx context.Context, js jetstream.JetStream, names ...string) error {
	for _, name := range names {
		_, err := backoff.Retry(ctx, func() (jetstream.Stream, error) { return js.Stream(ctx, name) },
			backoff.WithBackOff(shortBackOff(time.Second)), backoff.WithMaxElapsedTime(0))
		if err != nil {
			return fmt.Errorf("bus: stream %s not readable: %w", name, err)
		}
	}
	return nil
}

// shortBackOff starts at 50 ms and doubles up to limit.
func shortBackOff(limit time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 50*time.Millisecond, limit
	return b
}

// Every "ensure" creates first and updates only what exists: on a
// JetStream cluster, concurrent CreateOrUpdate calls for one stream that
// does not exist yet (every replica of every service starting at once)
// leave some requests unanswered until their timeout (nats-server 2.15,
// replicas 3; seen in tests/cluster's R3 harness), while concurrent
// creates of one new stream all succeed.

// EnsureStream creates sc, or (owner) updates it to sc; a non-owner keeps
// an existing stream's configuration as its owner set it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, owner bool) error {
	return retryTransient(ctx, func() error {
		_, err := js.CreateStream(ctx, sc)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		if owner {
			_, err = js.UpdateStream(ctx, sc)
			return err
		}
		return nil
	})
}

// EnsureKV creates the bucket kc, or updates an existing one to kc.
func EnsureKV(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig) (kv jetstream.KeyValue, err error) {
	err = retryTransient(ctx, func() error {
		kv, err = js.CreateKeyValue(ctx, kc)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.UpdateKeyValue(ctx, kc)
		}
		return err
	})
	return kv, err
}

func ensureObjectStore(ctx context.Context, js jetstream.JetStream, oc jetstream.ObjectStoreConfig) error {
	return retryTransient(ctx, func() error {
		_, err := js.CreateObjectStore(ctx, oc)
		if errors.Is(err, jetstream.ErrBucketExists) {
			_, err = js.UpdateObjectStore(ctx, oc)
		}
		return err
	})
}

// transientFor bounds how long an ensure call retries a cluster that is
// still forming (a peer not yet known, no meta leader, a request
// unanswered): Kubernetes starts services beside the NATS pods. A
// lasting error (e.g. 3 replicas on one server: "no suitable peers")
// is returned after it, naming the cause.
const transientFor = 30 * time.Second

func retryTransient(ctx context.Context, f func() error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := f()
		if err != nil && !transient(ctx, err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(shortBackOff(2*time.Second)), backoff.WithMaxElapsedTime(transientFor))
	return err
}

// transient: a JetStream cluster's answer while it forms or elects, or a
// call's own timeout (ctx itself still live).
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10005 no suitable peers (a peer offline), 10008 cluster not
		// available, 503 JetStream temporarily unavailable.
		return apiErr.ErrorCode == 10005 || apiErr.ErrorCode == 10008 || apiErr.Code == 503
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse)
}

// KV opens a bucket created by EnsureStreams.
func (b *Bus) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := b.JS.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("bus: open bucket %s: %w", bucket, err)
	}
	return kv, nil
}
