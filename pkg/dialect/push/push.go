// Package push is the codec of the push channels (document 000 in
// shared/seeds): the read-only WebSocket paths /notification and
// /statechange. Services publish events as Envelopes with push.proto
// bodies on core NATS (Subject); every gateway pod renders each event once
// (Render) and hands the same bytes to each local reader that the event's
// scope (Visible) and the reader's filter (Filter.Allows) admit.
//
// Frames are exactly the document's:
//
//	/notification  {"Type":1,"Data":{"TransferMode":"Upload",…}}
//	/statechange   {"Path":"…","StorageName":"…","State":4}
package push

import (
	"strconv"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// NotificationType is the "Type" of a /notification frame. The values are
// flags, as in the document, so a filter can be a mask.
type NotificationType uint8

const (
	TypeProgress          NotificationType = 1
	TypeUserNotification  NotificationType = 2
	TypeAppNotification   NotificationType = 4
	TypeAppUpdateProgress NotificationType = 8

	// AllTypes is the mask of every NotificationType.
	AllTypes = TypeProgress | TypeUserNotification | TypeAppNotification | TypeAppUpdateProgress
)

var typeNames = []struct {
	t    NotificationType
	name string
}{
	{TypeProgress, "Progress"},
	{TypeUserNotification, "UserNotification"},
	{TypeAppNotification, "AppNotification"},
	{TypeAppUpdateProgress, "AppUpdateProgress"},
}

// String is the document's name of a single type ("Progress"), or the
// names of a mask joined by ", ".
func (t NotificationType) String() string {
	var names []string
	for _, n := range typeNames {
		if t&n.t != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 || t&^AllTypes != 0 {
		return "NotificationType(" + itoa(uint64(t)) + ")"
	}
	return strings.Join(names, ", ")
}

// FileState is the "State" of a /statechange frame: the document's
// FileState flags. It is rendered as a number; combined flags are OR-ed
// (Temporary|Uploading renders as 5).
type FileState uint32

const (
	StateNormal         FileState = 0
	StateTemporary      FileState = 1
	StateDownloading    FileState = 2
	StateUploading      FileState = 4
	StateDeleting       FileState = 8
	StateIgnore         FileState = 16
	StateRenameDeleting FileState = 32
	StateDeleted        FileState = 64
	StateReading        FileState = 128
	StateError          FileState = 256

	allStates = StateTemporary | StateDownloading | StateUploading | StateDeleting | StateIgnore |
		StateRenameDeleting | StateDeleted | StateReading | StateError
)

var stateNames = []struct {
	s    FileState
	name string
}{
	{StateTemporary, "Temporary"}, {StateDownloading, "Downloading"}, {StateUploading, "Uploading"},
	{StateDeleting, "Deleting"}, {StateIgnore, "Ignore"}, {StateRenameDeleting, "RenameDeleting"},
	{StateDeleted, "Deleted"}, {StateReading, "Reading"}, {StateError, "Error"},
}

// String is the document's name ("Normal", "Uploading") or, for combined
// flags, the names joined by ", " as .NET renders a [Flags] enum
// ("Temporary, Uploading"). It is for logs and docs; the wire has numbers.
func (s FileState) String() string {
	if s == StateNormal {
		return "Normal"
	}
	if s&^allStates != 0 {
		return "FileState(" + itoa(uint64(s)) + ")"
	}
	var names []string
	for _, n := range stateNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ", ")
}

// Valid reports whether s is Normal or a combination of the document's flags.
func (s FileState) Valid() bool { return s&^allStates == 0 }

// Envelope kinds of push events (Envelope.type). The body of each is the
// push.proto message named in the comment.
const (
	KindProgress          = "push.progress"            // TransferProgress
	KindUserNotification  = "push.user_notification"   // UserNotification
	KindAppNotification   = "push.app_notification"    // AppNotification
	KindAppUpdateProgress = "push.app_update_progress" // AppUpdateProgress
	KindStateChange       = "push.state_change"        // FileStateChange
)

// Core NATS subjects. Publishers send each event once on Subject(kind);
// a gateway pod subscribes to SubjectAll once while it has a reader, so an
// event costs one NATS message per pod, never one per reader. Core NATS,
// not JetStream: the channels are live only, nothing is replayed.
// Both carry the installation's namespace (SY_NAMESPACE, pkg/namespace).

// SubjectAll is every push event's subject: "sy.push.>".
func SubjectAll() string { return namespace.Subject("sy.push.>") }

// Subject is the core subject of an event kind: "sy.push.progress", ….
func Subject(kind string) string { return namespace.SubjectPrefix() + "sy." + kind }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
