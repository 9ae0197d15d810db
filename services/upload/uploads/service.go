// Package uploads is the upload service: it owns upload state (KV
// sy_uploads), chunk storage (stream SY_UPLOADS), sha256 verification,
// completion and download grants, and publishes transfer events. Any
// number of replicas serve the sy.svc.upload.* subjects in queue group
// "upload"; a replica keeps nothing between messages that matters.
package uploads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/upload"
)

// Config is the upload service's configuration (docs/configuration.md).
type Config struct {
	config.Common
	HTTPListen    string        `flag:"http-listen" env:"SY_HTTP_LISTEN" default:"127.0.0.1:9092" usage:"address of /healthz, /readyz and /metrics"`
	ChunkSize     int64         `flag:"upload-chunk-size" env:"SY_UPLOAD_CHUNK_SIZE" default:"1048576" usage:"chunkSize answered to init_upload (bytes)"`
	MaxChunk      int64         `flag:"upload-max-chunk" env:"SY_UPLOAD_MAX_CHUNK" default:"8388608" usage:"largest chunk accepted (bytes); also bounded by the NATS max payload"`
	MaxFiles      int           `flag:"upload-max-files" env:"SY_UPLOAD_MAX_FILES" default:"100000" usage:"most files one upload may declare"`
	MaxTotalBytes int64         `flag:"upload-max-total-bytes" env:"SY_UPLOAD_MAX_TOTAL_BYTES" default:"1099511627776" usage:"largest totalSize of one upload (bytes)"`
	StoreMaxBytes int64         `flag:"upload-store-max-bytes" env:"SY_UPLOAD_STORE_MAX_BYTES" default:"-1" usage:"size limit of the chunk stream SY_UPLOADS (-1: unlimited); when full, chunks are refused"`
	TokenTTL      time.Duration `flag:"upload-token-ttl" env:"SY_UPLOAD_TOKEN_TTL" default:"1h" usage:"lifetime of the download token issued on complete_upload"`
	EventInterval time.Duration `flag:"upload-event-interval" env:"SY_UPLOAD_EVENT_INTERVAL" default:"250ms" usage:"least time between two InProgress events of one transfer (final events are always sent)"`
	Workers       int           `flag:"upload-workers" env:"SY_UPLOAD_WORKERS" default:"8" usage:"requests one replica handles at once"`
}

// Validate checks the upload settings (and the shared ones).
func (c *Config) Validate() error {
	errs := []error{c.Common.Validate()}
	if c.ChunkSize <= 0 || c.MaxChunk < c.ChunkSize {
		errs = append(errs, fmt.Errorf("upload-chunk-size (%d) must be positive and at most upload-max-chunk (%d)", c.ChunkSize, c.MaxChunk))
	}
	if c.MaxFiles < 1 || c.MaxTotalBytes < 1 || c.Workers < 1 || c.TokenTTL <= 0 {
		errs = append(errs, errors.New("upload-max-files, upload-max-total-bytes, upload-workers and upload-token-ttl must be positive"))
	}
	return errors.Join(errs...)
}

// Service is one replica of the upload service.
type Service struct {
	cfg    Config
	bus    *bus.Bus
	log    *slog.Logger
	tracer trace.Tracer
	events *upload.Events
	m      *metrics

	stream   jetstream.Stream
	kvStream jetstream.Stream
	kv       jetstream.KeyValue
	maxChunk int64
	chunk    int64

	subs []*nats.Subscription
	work chan *nats.Msg
	wg   sync.WaitGroup
	// skew shifts the service's clock (tests of token expiry).
	skew atomic.Int64

	// afterStore, in tests, runs once a chunk is durably stored and before
	// the reply (a replica "killed" there has stored but not answered).
	afterStore func()
}

// New prepares a replica; Start makes it serve.
func New(cfg Config, b *bus.Bus, tel *telemetry.Telemetry) *Service {
	return &Service{cfg: cfg, bus: b, log: tel.Log, tracer: tel.Tracer, m: newMetrics(tel.Registry),
		events: upload.NewEvents(b.NC, cfg.EventInterval)}
}

func (s *Service) now() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }

// Start ensures the storage, reads the NATS max payload and subscribes.
func (s *Service) Start(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if err := upload.EnsureStorage(ctx, s.bus.JS, upload.StorageLimits{Replicas: s.cfg.StreamReplicas, MaxBytes: s.cfg.StoreMaxBytes}); err != nil {
		return err
	}
	var err error
	if s.stream, err = s.bus.JS.Stream(ctx, bus.StreamUploads()); err != nil {
		return fmt.Errorf("uploads: open stream: %w", err)
	}
	if s.kv, err = s.bus.KV(ctx, bus.BucketUploads()); err != nil {
		return err
	}
	if s.kvStream, err = s.bus.JS.Stream(ctx, "KV_"+bus.BucketUploads()); err != nil {
		return fmt.Errorf("uploads: open bucket stream: %w", err)
	}
	s.limits()
	s.work = make(chan *nats.Msg, 4*s.cfg.Workers)
	for _, subj := range []string{bus.SubjUploadInit(), bus.SubjUploadChunk(), bus.SubjUploadStatus(), bus.SubjUploadComplete(), bus.SubjUploadCancel()} {
		sub, err := s.bus.NC.ChanQueueSubscribe(subj, bus.QueueUpload, s.work)
		if err != nil {
			s.Stop()
			return fmt.Errorf("uploads: subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(-1, 256<<20)
		s.subs = append(s.subs, sub)
	}
	for i := 0; i < s.cfg.Workers; i++ {
		s.wg.Add(1)
		go s.serve()
	}
	return s.bus.NC.Flush()
}

// limits fits the chunk limit to the server's max payload.
func (s *Service) limits() {
	fit := upload.MaxChunkFor(s.bus.NC)
	s.maxChunk, s.chunk = min(s.cfg.MaxChunk, fit), s.cfg.ChunkSize
	if s.chunk > s.maxChunk {
		s.chunk = s.maxChunk
		s.log.Warn("NATS max_payload is too small for the configured chunk size: answering a smaller chunkSize; raise max_payload (docs/configuration.md)",
			"max_payload", s.bus.NC.MaxPayload(), "chunk_size", s.cfg.ChunkSize, "answered_chunk_size", s.chunk)
	}
}

// Stop unsubscribes and waits for the requests in hand.
func (s *Service) Stop() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
	if s.work != nil {
		close(s.work)
		s.wg.Wait()
		s.work = nil
	}
}

// Ready reports whether NATS is connected.
func (s *Service) Ready() error {
	if !s.bus.Ready() {
		return errors.New("nats not connected")
	}
	return nil
}

func (s *Service) serve() {
	defer s.wg.Done()
	for m := range s.work {
		s.handle(m)
	}
}

// handle dispatches one request and answers it.
func (s *Service) handle(m *nats.Msg) {
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), bus.HeaderCarrier(m.Header))
	op := bus.UploadOp(m.Subject)
	ctx, span := s.tracer.Start(ctx, "upload."+op, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	start := s.now()
	var reply proto.Message
	var err error
	switch m.Subject {
	case bus.SubjUploadInit():
		reply, err = s.initUpload(ctx, m.Data)
	case bus.SubjUploadChunk():
		reply, err = s.putChunk(ctx, m.Data)
	case bus.SubjUploadStatus():
		reply, err = s.status(ctx, m.Data)
	case bus.SubjUploadComplete():
		reply, err = s.complete(ctx, m.Data)
	case bus.SubjUploadCancel():
		reply, err = s.cancelUpload(ctx, m.Data)
	default:
		return
	}
	ue := upload.AsError(err)
	if ue != nil && ue.Code == upload.CodeInternal {
		s.log.Warn("upload request failed", "op", op, "err", err)
	}
	s.m.observe(op, ue, s.now().Sub(start))
	data, merr := proto.Marshal(reply)
	if merr != nil || m.Reply == "" {
		return
	}
	if err := m.Respond(data); err != nil {
		s.log.Debug("upload reply not sent", "op", op, "err", err)
	}
}

// decode reads a request; a malformed one is bad_request.
func decode(data []byte, m proto.Message) error {
	if err := proto.Unmarshal(data, m); err != nil {
		return upload.Errorf(upload.ReasonBadRequest, "malformed request: %v", err)
	}
	return nil
}
