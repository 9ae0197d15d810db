package upload

import (
	"path"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Values of TransferProgress fields, as document 000 spells them.
const (
	ModeUpload   = "Upload"
	ModeDownload = "Download"

	StatusInProgress = "InProgress"
	StatusCompleted  = "Completed"
	StatusFailed     = "Failed"
	StatusCancelled  = "Cancelled"

	// StorageType of every transfer the upload service runs.
	StorageType = "JetStream"
	// StorageName of upload files on the push channels: the bucket that
	// describes them, by its base name (the wire is the same in every
	// SY_NAMESPACE).
	StorageName = "sy_uploads"
)

// DefaultEventInterval is the least time between two InProgress events of
// one transfer (4 a second).
const DefaultEventInterval = 250 * time.Millisecond

// Events publishes transfer progress and file state changes on core NATS
// as push-channel envelopes (push.Wrap of a TransferProgress on
// sy.push.progress, of a FileStateChange on sy.push.state_change), one
// message per event, never one per reader.
// InProgress events are throttled per transfer id to one per interval;
// Progress publishes synchronously and keeps no reference to its argument.
// Completed, Failed and Cancelled are always sent.
type Events struct {
	nc       *nats.Conn
	throttle *push.Throttle
	now      func() time.Time
}

// NewEvents publishes on nc; interval <= 0 means DefaultEventInterval.
func NewEvents(nc *nats.Conn, interval time.Duration) *Events {
	if interval <= 0 {
		interval = DefaultEventInterval
	}
	th := push.NewThrottle(0)
	// A transfer silent for a minute is forgotten: its next event would
	// pass anyway.
	th.Interval, th.Idle = interval, time.Minute
	return &Events{nc: nc, throttle: th, now: time.Now}
}

// Progress publishes p unless it is an InProgress event of a transfer that
// had one less than the interval ago. Speed and the progress time are
// filled in here. It reports whether the event was sent.
func (e *Events) Progress(p *syv1.UploadProgress) bool {
	if e == nil {
		return false
	}
	now := e.now()
	if !e.throttle.Allow(&syv1.TransferProgress{TransferId: p.GetTransferId(), Status: transferStatus(p.GetStatus())}, now) {
		return false
	}
	p.ProgressTimeUnixMs = now.UnixMilli()
	if el := now.UnixMilli() - p.GetStartTimeUnixMs(); el > 0 && p.GetStartTimeUnixMs() > 0 {
		p.Speed = p.GetBytes() * 1000 / el
	}
	e.publish(TransferEvent(p))
	return true
}

// FileState publishes a state change (never throttled).
func (e *Events) FileState(c *syv1.UploadFileState) {
	if e == nil {
		return
	}
	if c.GetTimeUnixMs() == 0 {
		c.TimeUnixMs = e.now().UnixMilli()
	}
	e.publish(StateEvent(c))
}

// publish is best effort: the push channels are live only, and a NATS
// outage must not fail an upload.
func (e *Events) publish(body proto.Message) {
	subject, data, err := push.Marshal(nuid.Next(), body)
	if err != nil {
		return
	}
	_ = e.nc.Publish(subject, data)
}

// TransferEvent is the push body (Type 1, Progress) of a transfer event.
// Scope: the owner user and device; upload and file ids go in nothing the
// document renders.
func TransferEvent(p *syv1.UploadProgress) *syv1.TransferProgress {
	mode := syv1.TransferMode_TRANSFER_MODE_UPLOAD
	if p.GetTransferMode() == ModeDownload {
		mode = syv1.TransferMode_TRANSFER_MODE_DOWNLOAD
	}
	out := &syv1.TransferProgress{
		Scope:      scope(p.GetUserId(), p.GetDeviceId()),
		TransferId: p.GetTransferId(), Mode: mode, Status: transferStatus(p.GetStatus()),
		StorageType: p.GetStorageType(), Path: p.GetPath(), Bytes: p.GetBytes(), Size: p.GetSize(),
		Error: p.GetError(), Name: p.GetName(), StorageName: p.GetStorageName(), Speed: p.GetSpeed(),
	}
	if ms := p.GetStartTimeUnixMs(); ms > 0 {
		out.StartTime = timestamppb.New(time.UnixMilli(ms))
	}
	if ms := p.GetProgressTimeUnixMs(); ms > 0 {
		out.ProgressTime = timestamppb.New(time.UnixMilli(ms))
	}
	return out
}

// StateEvent is the push body (/statechange) of a file state change.
func StateEvent(c *syv1.UploadFileState) *syv1.FileStateChange {
	return &syv1.FileStateChange{Scope: scope(c.GetUserId(), c.GetDeviceId()), Path: c.GetPath(),
		StorageName: c.GetStorageName(), State: uint32(c.GetState())}
}

func scope(user, device string) *syv1.PushScope {
	return &syv1.PushScope{UserId: user, DeviceId: device}
}

func transferStatus(s string) syv1.TransferStatus {
	switch s {
	case StatusCompleted:
		return syv1.TransferStatus_TRANSFER_STATUS_COMPLETED
	case StatusFailed:
		return syv1.TransferStatus_TRANSFER_STATUS_FAILED
	case StatusCancelled:
		return syv1.TransferStatus_TRANSFER_STATUS_CANCELLED
	}
	return syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS
}

// EventPath is the Path of a file in events: "<upload id>/<relative path>".
func EventPath(uploadID, filePath string) string { return uploadID + "/" + filePath }

// EventName is the Name of a file in events: its base name.
func EventName(filePath string) string { return path.Base(filePath) }
