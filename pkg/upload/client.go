package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// ClientOptions tune a Client.
type ClientOptions struct {
	// Timeout bounds one request to the upload service (default 30 s).
	Timeout time.Duration
	// Retries is how often an idempotent request (chunk, status,
	// complete, cancel) is sent again when no replica answered in time or
	// none was subscribed (default 2). Init is never retried.
	Retries int
	// EventInterval throttles the Download progress events of Serve
	// (default DefaultEventInterval).
	EventInterval time.Duration
}

// Client calls the upload service over NATS and reads stored files
// straight from JetStream. It is safe for concurrent use.
type Client struct {
	bus     *bus.Bus
	opts    ClientOptions
	events  *Events
	mu      sync.Mutex
	stream  jetstream.Stream
	kv      jetstream.KeyValue
	nowFunc func() time.Time
}

// NewClient returns a client on b.
func NewClient(b *bus.Bus, o ClientOptions) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 2
	}
	return &Client{bus: b, opts: o, events: NewEvents(b.NC, o.EventInterval), nowFunc: time.Now}
}

// MaxChunk is the largest chunk that fits the NATS server's max payload
// (read from the connection); a larger one is refused with
// ReasonChunkTooLarge before it is sent.
func (c *Client) MaxChunk() int64 { return MaxChunkFor(c.bus.NC) }

// MaxChunkFor is the largest chunk a connection can carry.
func MaxChunkFor(nc *nats.Conn) int64 { return nc.MaxPayload() - PayloadOverhead }

// FileSpec is a declared file of an upload.
type FileSpec struct {
	Path string
	Size int64
}

// InitRequest declares an upload (init_upload).
type InitRequest struct {
	OwnerUserID string
	DeviceID    string
	HubID       string
	// Config is the controller's config object (JSON), kept as sent.
	Config    json.RawMessage
	TotalSize int64
	Files     []FileSpec
}

// InitResult answers Init (upload_init_response).
type InitResult struct {
	UploadID  string
	ChunkSize int64
}

// Init declares an upload.
func (c *Client) Init(ctx context.Context, r InitRequest) (InitResult, error) {
	req := &syv1.UploadInitRequest{OwnerUserId: r.OwnerUserID, DeviceId: r.DeviceID, HubId: r.HubID,
		ConfigJson: r.Config, TotalSize: r.TotalSize}
	for _, f := range r.Files {
		req.Files = append(req.Files, &syv1.UploadFile{Path: f.Path, Size: f.Size})
	}
	resp := &syv1.UploadInitReply{}
	if err := c.call(ctx, bus.SubjUploadInit(), req, resp, 0); err != nil {
		return InitResult{}, err
	}
	if err := FromProto(resp.GetError()); err != nil {
		return InitResult{}, err
	}
	return InitResult{UploadID: resp.GetUploadId(), ChunkSize: resp.GetChunkSize()}, nil
}

// Chunk is one binary chunk (the device dialect's binary frame).
type Chunk struct {
	UploadID string
	FilePath string
	Offset   int64
	// Checksum is the header's hex sha256; empty: computed by the service.
	Checksum string
	Data     []byte
	// UserID, when set, must own the upload.
	UserID string
}

// ChunkResult acknowledges a durably stored chunk (upload_chunk_response).
type ChunkResult struct {
	BytesWritten int64
	TotalWritten int64
	Duplicate    bool
	SHA256       string
}

// PutChunk stores a chunk; it returns once JetStream has it. Sending the
// same chunk again is harmless, so a chunk whose answer was lost (a
// replica died) is sent again up to Retries times.
func (c *Client) PutChunk(ctx context.Context, ch Chunk) (ChunkResult, error) {
	if int64(len(ch.Data)) > c.MaxChunk() {
		return ChunkResult{}, Errorf(ReasonChunkTooLarge, "chunk of %d bytes does not fit the NATS max payload %d (at most %d per chunk; raise max_payload, docs/configuration.md)",
			len(ch.Data), c.bus.NC.MaxPayload(), c.MaxChunk())
	}
	req := &syv1.UploadChunkRequest{UploadId: ch.UploadID, FilePath: ch.FilePath, Offset: ch.Offset,
		Checksum: ch.Checksum, Data: ch.Data, UserId: ch.UserID}
	resp := &syv1.UploadChunkReply{}
	if err := c.call(ctx, bus.SubjUploadChunk(), req, resp, c.opts.Retries); err != nil {
		return ChunkResult{}, err
	}
	if err := FromProto(resp.GetError()); err != nil {
		return ChunkResult{}, err
	}
	return ChunkResult{BytesWritten: resp.GetBytesWritten(), TotalWritten: resp.GetTotalWritten(),
		Duplicate: resp.GetDuplicate(), SHA256: resp.GetSha256()}, nil
}

// Range is [Start, End) of a file.
type Range struct{ Start, End int64 }

// FileStatus is one file of an upload.
type FileStatus struct {
	Path   string
	Size   int64
	Stored int64
	Ranges []Range
	// SHA256 (hex) once the upload is complete.
	SHA256 string
	// FileID for GET /files/{id}.
	FileID string
}

// Missing reports whether bytes of the file are not stored yet.
func (f FileStatus) Missing() bool { return f.Stored < f.Size }

// Status is what the service knows of an upload (get_upload_status).
type Status struct {
	UploadID     string
	State        syv1.UploadState
	TotalSize    int64
	TotalWritten int64
	ChunkSize    int64
	OwnerUserID  string
	DeviceID     string
	HubID        string
	Config       json.RawMessage
	Files        []FileStatus
}

// Status reports the stored ranges of every file: a controller that
// reconnects (to any gateway) sends only what is missing.
func (c *Client) Status(ctx context.Context, uploadID, userID string) (*Status, error) {
	resp := &syv1.UploadStatusReply{}
	if err := c.call(ctx, bus.SubjUploadStatus(), &syv1.UploadRef{UploadId: uploadID, UserId: userID}, resp, c.opts.Retries); err != nil {
		return nil, err
	}
	if err := FromProto(resp.GetError()); err != nil {
		return nil, err
	}
	return &Status{UploadID: resp.GetUploadId(), State: resp.GetState(), TotalSize: resp.GetTotalSize(),
		TotalWritten: resp.GetTotalWritten(), ChunkSize: resp.GetChunkSize(), OwnerUserID: resp.GetOwnerUserId(),
		DeviceID: resp.GetDeviceId(), HubID: resp.GetHubId(), Config: resp.GetConfigJson(), Files: fileStatuses(resp.GetFiles())}, nil
}

// Completed is the outcome of Complete.
type Completed struct {
	UploadID string
	Files    []FileStatus
	// DownloadToken lets the upload's device fetch its files (Handler)
	// until TokenExpires.
	DownloadToken string
	TokenExpires  time.Time
}

// Complete checks that every declared file is stored, fixes each file's
// sha256 and issues a download token for the upload's device. Completing
// a completed upload answers the same files with a new token.
func (c *Client) Complete(ctx context.Context, uploadID, userID string) (*Completed, error) {
	resp := &syv1.UploadCompleteReply{}
	if err := c.call(ctx, bus.SubjUploadComplete(), &syv1.UploadRef{UploadId: uploadID, UserId: userID}, resp, c.opts.Retries); err != nil {
		return nil, err
	}
	if err := FromProto(resp.GetError()); err != nil {
		return nil, err
	}
	return &Completed{UploadID: resp.GetUploadId(), Files: fileStatuses(resp.GetFiles()), DownloadToken: resp.GetDownloadToken(),
		TokenExpires: time.UnixMilli(resp.GetTokenExpiresUnixMs())}, nil
}

// Cancel discards everything stored for an upload (also a completed one:
// its files and download tokens are gone).
func (c *Client) Cancel(ctx context.Context, uploadID, userID string) error {
	resp := &syv1.UploadCancelReply{}
	if err := c.call(ctx, bus.SubjUploadCancel(), &syv1.UploadRef{UploadId: uploadID, UserId: userID}, resp, c.opts.Retries); err != nil {
		return err
	}
	return FromProto(resp.GetError())
}

func fileStatuses(in []*syv1.UploadFileStatus) []FileStatus {
	out := make([]FileStatus, 0, len(in))
	for _, f := range in {
		fs := FileStatus{Path: f.GetPath(), Size: f.GetSize(), Stored: f.GetStored(), SHA256: f.GetSha256(), FileID: f.GetFileId()}
		for _, r := range f.GetRanges() {
			fs.Ranges = append(fs.Ranges, Range{Start: r.GetStart(), End: r.GetEnd()})
		}
		out = append(out, fs)
	}
	return out
}

// call sends req and decodes the reply into resp, sending again (up to
// retries times) when no replica answered.
func (c *Client) call(ctx context.Context, subject string, req, resp proto.Message, retries int) error {
	data, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("upload: marshal %s request: %w", subject, err)
	}
	if int64(len(data)) > c.bus.NC.MaxPayload() {
		return Errorf(ReasonChunkTooLarge, "request of %d bytes exceeds the NATS max payload %d", len(data), c.bus.NC.MaxPayload())
	}
	for attempt := 0; ; attempt++ {
		m, err := c.request(ctx, subject, data)
		if err == nil {
			if err := proto.Unmarshal(m.Data, resp); err != nil {
				return fmt.Errorf("upload: decode %s reply: %w", subject, err)
			}
			return nil
		}
		retryable := errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded)
		if !retryable || attempt >= retries || ctx.Err() != nil {
			return Errorf(ReasonUnavailable, "%s: %v", subject, err)
		}
	}
}

func (c *Client) request(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	m := nats.NewMsg(subject)
	m.Data = data
	otel.GetTextMapPropagator().Inject(ctx, bus.HeaderCarrier(m.Header))
	return c.bus.NC.RequestMsgWithContext(ctx, m)
}

// handles opens the chunk stream and the bucket once.
func (c *Client) handles(ctx context.Context) (jetstream.Stream, jetstream.KeyValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream == nil {
		st, err := c.bus.JS.Stream(ctx, bus.StreamUploads())
		if err != nil {
			return nil, nil, fmt.Errorf("upload: open stream %s: %w", bus.StreamUploads(), err)
		}
		c.stream = st
	}
	if c.kv == nil {
		kv, err := c.bus.KV(ctx, bus.BucketUploads())
		if err != nil {
			return nil, nil, err
		}
		c.kv = kv
	}
	return c.stream, c.kv, nil
}
