package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Channel is one of the two push paths.
type Channel uint8

const (
	ChannelNotification Channel = iota + 1 // /notification
	ChannelStateChange                     // /statechange
)

// Path is the HTTP path of the channel.
func (c Channel) Path() string {
	if c == ChannelStateChange {
		return "/statechange"
	}
	return "/notification"
}

// Event is a push event rendered once for every reader of a pod.
type Event struct {
	Channel Channel
	// Type is the notification type; 0 on /statechange.
	Type  NotificationType
	Scope *syv1.PushScope
	// JSON is the text frame, shared by every reader it is sent to.
	JSON []byte
}

// Render turns an event envelope (a push.proto body) into its frame.
func Render(env *syv1.Envelope) (*Event, error) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_TransferProgress:
		j, err := EncodeProgress(b.TransferProgress)
		return event(ChannelNotification, TypeProgress, b.TransferProgress.GetScope(), j, err)
	case *syv1.Envelope_UserNotification:
		j, err := EncodeUserNotification(b.UserNotification)
		return event(ChannelNotification, TypeUserNotification, b.UserNotification.GetScope(), j, err)
	case *syv1.Envelope_AppNotification:
		j, err := EncodeAppNotification(b.AppNotification)
		return event(ChannelNotification, TypeAppNotification, b.AppNotification.GetScope(), j, err)
	case *syv1.Envelope_AppUpdateProgress:
		j, err := EncodeAppUpdateProgress(b.AppUpdateProgress)
		return event(ChannelNotification, TypeAppUpdateProgress, b.AppUpdateProgress.GetScope(), j, err)
	case *syv1.Envelope_FileStateChange:
		j, err := EncodeStateChange(b.FileStateChange)
		return event(ChannelStateChange, 0, b.FileStateChange.GetScope(), j, err)
	}
	return nil, fmt.Errorf("push: envelope %q has no push body (%T)", env.GetType(), env.GetBody())
}

func event(c Channel, t NotificationType, s *syv1.PushScope, j []byte, err error) (*Event, error) {
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = &syv1.PushScope{}
	}
	return &Event{Channel: c, Type: t, Scope: s, JSON: j}, nil
}

// Wrap builds the envelope a service publishes on Subject(env.Type): the
// kind follows from the body, which must be a push.proto event.
func Wrap(id string, body proto.Message) (*syv1.Envelope, error) {
	env := &syv1.Envelope{Id: id}
	switch m := body.(type) {
	case *syv1.TransferProgress:
		env.Type, env.Body = KindProgress, &syv1.Envelope_TransferProgress{TransferProgress: m}
	case *syv1.UserNotification:
		env.Type, env.Body = KindUserNotification, &syv1.Envelope_UserNotification{UserNotification: m}
	case *syv1.AppNotification:
		env.Type, env.Body = KindAppNotification, &syv1.Envelope_AppNotification{AppNotification: m}
	case *syv1.AppUpdateProgress:
		env.Type, env.Body = KindAppUpdateProgress, &syv1.Envelope_AppUpdateProgress{AppUpdateProgress: m}
	case *syv1.FileStateChange:
		env.Type, env.Body = KindStateChange, &syv1.Envelope_FileStateChange{FileStateChange: m}
	default:
		return nil, fmt.Errorf("push: %T is not a push event", body)
	}
	return env, nil
}

// notification is the /notification envelope, in the document's order.
type notification struct {
	Type NotificationType `json:"Type"`
	Data any              `json:"Data"`
}

// progressJSON is the Progress payload with the document's field order.
type progressJSON struct {
	TransferMode    string  `json:"TransferMode"`
	Status          string  `json:"Status"`
	StorageType     string  `json:"StorageType"`
	Path            string  `json:"Path"`
	Bytes           int64   `json:"Bytes"`
	Size            int64   `json:"Size"`
	Error           *string `json:"Error"`
	Name            string  `json:"Name"`
	StorageName     string  `json:"StorageName"`
	Speed           int64   `json:"Speed"`
	Duration        string  `json:"Duration"`
	TransferID      string  `json:"TransferId"`
	StartTimeUtc    string  `json:"StartTimeUtc"`
	ProgressTimeUtc string  `json:"ProgressTimeUtc"`
}

type userNotificationJSON struct {
	Category string          `json:"Category"`
	Title    string          `json:"Title"`
	Message  string          `json:"Message"`
	Details  json.RawMessage `json:"Details,omitempty"`
}

type appNotificationJSON struct {
	Operation       string `json:"Operation"`
	EndpointAddress string `json:"EndpointAddress"`
	HttpMethod      string `json:"HttpMethod"`
	Origin          string `json:"Origin"`
}

type stateChangeJSON struct {
	Path        string    `json:"Path"`
	StorageName string    `json:"StorageName"`
	State       FileState `json:"State"`
}

// TransferModeName is the wire name of a transfer mode ("Upload", …).
func TransferModeName(m syv1.TransferMode) string {
	switch m {
	case syv1.TransferMode_TRANSFER_MODE_DOWNLOAD:
		return "Download"
	case syv1.TransferMode_TRANSFER_MODE_ENCRYPT:
		return "Encrypt"
	case syv1.TransferMode_TRANSFER_MODE_DECRYPT:
		return "Decrypt"
	}
	return "Upload"
}

// StatusName is the wire name of a transfer status ("InProgress", …).
func StatusName(s syv1.TransferStatus) string {
	switch s {
	case syv1.TransferStatus_TRANSFER_STATUS_COMPLETED:
		return "Completed"
	case syv1.TransferStatus_TRANSFER_STATUS_FAILED:
		return "Failed"
	case syv1.TransferStatus_TRANSFER_STATUS_CANCELLED:
		return "Cancelled"
	case syv1.TransferStatus_TRANSFER_STATUS_QUEUED:
		return "Queued"
	}
	return "InProgress"
}

// DefaultFailure is the Error text of a Failed transfer that gave no reason.
const DefaultFailure = "transfer failed"

var errNoTime = errors.New("push: progress needs start_time or progress_time")

// EncodeProgress renders a Type 1 frame.
func EncodeProgress(p *syv1.TransferProgress) ([]byte, error) {
	start, at := p.GetStartTime(), p.GetProgressTime()
	switch {
	case start == nil && at == nil:
		return nil, errNoTime
	case start == nil:
		start = at
	case at == nil:
		at = start
	}
	d := at.AsTime().Sub(start.AsTime())
	if p.GetDuration() != nil {
		d = p.GetDuration().AsDuration()
	}
	out := progressJSON{
		TransferMode: TransferModeName(p.GetMode()), Status: StatusName(p.GetStatus()),
		StorageType: p.GetStorageType(), Path: p.GetPath(), Bytes: p.GetBytes(), Size: p.GetSize(),
		Name: p.GetName(), StorageName: p.GetStorageName(), Speed: p.GetSpeed(),
		Duration: FormatDuration(d), TransferID: p.GetTransferId(),
		StartTimeUtc: FormatTime(start.AsTime()), ProgressTimeUtc: FormatTime(at.AsTime()),
	}
	if p.GetStatus() == syv1.TransferStatus_TRANSFER_STATUS_FAILED {
		e := p.GetError()
		if e == "" {
			e = DefaultFailure
		}
		out.Error = &e
	}
	return marshal(notification{Type: TypeProgress, Data: out})
}

// EncodeUserNotification renders a Type 2 frame:
// Data {"Category","Title","Message"} and "Details" when there are any.
func EncodeUserNotification(n *syv1.UserNotification) ([]byte, error) {
	out := userNotificationJSON{Category: n.GetCategory(), Title: n.GetTitle(), Message: n.GetMessage()}
	if n.GetDetails() != nil {
		d, err := structJSON(n.GetDetails())
		if err != nil {
			return nil, err
		}
		out.Details = d
	}
	return marshal(notification{Type: TypeUserNotification, Data: out})
}

// EncodeAppNotification renders a Type 4 frame.
func EncodeAppNotification(n *syv1.AppNotification) ([]byte, error) {
	return marshal(notification{Type: TypeAppNotification, Data: appNotificationJSON{
		Operation: n.GetOperation(), EndpointAddress: n.GetEndpointAddress(),
		HttpMethod: n.GetHttpMethod(), Origin: n.GetOrigin(),
	}})
}

// EncodeAppUpdateProgress renders a Type 8 frame: Data is the reported
// object ({} when there was none), keys in sorted order.
func EncodeAppUpdateProgress(n *syv1.AppUpdateProgress) ([]byte, error) {
	d, err := structJSON(n.GetData())
	if err != nil {
		return nil, err
	}
	return marshal(notification{Type: TypeAppUpdateProgress, Data: d})
}

// EncodeStateChange renders a /statechange frame.
func EncodeStateChange(c *syv1.FileStateChange) ([]byte, error) {
	s := FileState(c.GetState())
	if !s.Valid() {
		return nil, fmt.Errorf("push: state %d is not a FileState combination", c.GetState())
	}
	return marshal(stateChangeJSON{Path: c.GetPath(), StorageName: c.GetStorageName(), State: s})
}

// FormatDuration renders d as the document's "hh:mm:ss" (whole seconds,
// truncated; hours keep counting past 24: "27:00:05"; negative is zero).
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// FormatTime renders t as the document's UTC time, "2026-04-22T12:00:00Z"
// (whole seconds).
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func structJSON(s *structpb.Struct) (json.RawMessage, error) {
	if s == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := marshal(s.AsMap())
	if err != nil {
		return nil, fmt.Errorf("push: data object: %w", err)
	}
	return b, nil
}

// marshal is json.Marshal without HTML escaping and without the newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("push: encode: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Marshal wraps body (Wrap) and returns what a publisher sends: the core
// subject of its kind and the envelope's bytes. One message per event.
func Marshal(id string, body proto.Message) (subject string, data []byte, err error) {
	env, err := Wrap(id, body)
	if err != nil {
		return "", nil, err
	}
	data, err = proto.Marshal(env)
	if err != nil {
		return "", nil, fmt.Errorf("push: marshal %s: %w", env.GetType(), err)
	}
	return Subject(env.GetType()), data, nil
}
