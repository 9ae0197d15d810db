package push

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

var (
	t0 = time.Date(2026, 4, 22, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(1500 * time.Millisecond)
)

func progress(status syv1.TransferStatus, errText string) *syv1.TransferProgress {
	return &syv1.TransferProgress{
		Scope: &syv1.PushScope{UserId: "alice"}, TransferId: "f-1", Mode: syv1.TransferMode_TRANSFER_MODE_UPLOAD,
		Status: status, StorageType: "ObjectStore", Path: "sess-1/report.pdf", Bytes: 512, Size: 1024,
		Error: errText, Name: "report.pdf", StorageName: "sy_files", Speed: 341,
		StartTime: timestamppb.New(t0), ProgressTime: timestamppb.New(t1),
	}
}

// The Progress payload has the document's fields in the document's order,
// with Error null unless the transfer failed.
func TestProgressFrameIsTheDocuments(t *testing.T) {
	got, err := EncodeProgress(progress(syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS, "ignored"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Type":1,"Data":{"TransferMode":"Upload","Status":"InProgress","StorageType":"ObjectStore","Path":"sess-1/report.pdf","Bytes":512,"Size":1024,"Error":null,"Name":"report.pdf","StorageName":"sy_files","Speed":341,"Duration":"00:00:01","TransferId":"f-1","StartTimeUtc":"2026-04-22T12:00:00Z","ProgressTimeUtc":"2026-04-22T12:00:01Z"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Same key set as the document's example payload.
	doc := `{"TransferMode":"Upload | Download | Encrypt | Decrypt","Status":"InProgress | Completed | Failed | ...","StorageType":"string","Path":"string","Bytes":0,"Size":0,"Error":"string | null","Name":"string","StorageName":"string","Speed":0,"Duration":"00:00:00","TransferId":"string","StartTimeUtc":"2026-04-22T12:00:00Z","ProgressTimeUtc":"2026-04-22T12:00:01Z"}`
	if a, b := keys(t, doc), keys(t, string(dataOf(t, got))); !reflect.DeepEqual(a, b) {
		t.Fatalf("keys %v, document has %v", b, a)
	}
}

func TestProgressErrorOnlyWhenFailed(t *testing.T) {
	for _, c := range []struct {
		status syv1.TransferStatus
		err    string
		want   any
	}{
		{syv1.TransferStatus_TRANSFER_STATUS_FAILED, "disk full", "disk full"},
		{syv1.TransferStatus_TRANSFER_STATUS_FAILED, "", DefaultFailure},
		{syv1.TransferStatus_TRANSFER_STATUS_COMPLETED, "x", nil},
		{syv1.TransferStatus_TRANSFER_STATUS_CANCELLED, "x", nil},
	} {
		b, err := EncodeProgress(progress(c.status, c.err))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		mustUnmarshal(t, dataOf(t, b), &m)
		if m["Error"] != c.want || m["Status"] != StatusName(c.status) {
			t.Errorf("%v %q: Error %v Status %v", c.status, c.err, m["Error"], m["Status"])
		}
	}
}

func TestProgressNames(t *testing.T) {
	modes := map[syv1.TransferMode]string{
		syv1.TransferMode_TRANSFER_MODE_UNSPECIFIED: "Upload", syv1.TransferMode_TRANSFER_MODE_UPLOAD: "Upload",
		syv1.TransferMode_TRANSFER_MODE_DOWNLOAD: "Download", syv1.TransferMode_TRANSFER_MODE_ENCRYPT: "Encrypt",
		syv1.TransferMode_TRANSFER_MODE_DECRYPT: "Decrypt",
	}
	for m, want := range modes {
		if got := TransferModeName(m); got != want {
			t.Errorf("%v: %q, want %q", m, got, want)
		}
	}
	statuses := map[syv1.TransferStatus]string{
		syv1.TransferStatus_TRANSFER_STATUS_UNSPECIFIED: "InProgress", syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS: "InProgress",
		syv1.TransferStatus_TRANSFER_STATUS_COMPLETED: "Completed", syv1.TransferStatus_TRANSFER_STATUS_FAILED: "Failed",
		syv1.TransferStatus_TRANSFER_STATUS_CANCELLED: "Cancelled", syv1.TransferStatus_TRANSFER_STATUS_QUEUED: "Queued",
	}
	for s, want := range statuses {
		if got := StatusName(s); got != want {
			t.Errorf("%v: %q, want %q", s, got, want)
		}
	}
}

func TestProgressTimes(t *testing.T) {
	p := progress(syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS, "")
	p.Duration = durationpb.New(27*time.Hour + 5*time.Second)
	p.StartTime = nil
	b, err := EncodeProgress(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	mustUnmarshal(t, dataOf(t, b), &m)
	if m["Duration"] != "27:00:05" || m["StartTimeUtc"] != "2026-04-22T12:00:01Z" || m["ProgressTimeUtc"] != "2026-04-22T12:00:01Z" {
		t.Fatalf("times: %v %v %v", m["Duration"], m["StartTimeUtc"], m["ProgressTimeUtc"])
	}
	p.ProgressTime = nil
	if _, err := EncodeProgress(p); !errors.Is(err, errNoTime) {
		t.Fatalf("no times: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "00:00:00", 999 * time.Millisecond: "00:00:00", 61 * time.Second: "00:01:01",
		time.Hour + 2*time.Minute + 3*time.Second: "01:02:03", 100 * time.Hour: "100:00:00", -time.Second: "00:00:00",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestOtherNotificationFrames(t *testing.T) {
	details, _ := structpb.NewStruct(map[string]any{"code": "123456", "device_id": "dev-1"})
	upd, _ := structpb.NewStruct(map[string]any{"state": "downloading", "percent": 42, "version": "1.2.3"})
	for _, c := range []struct {
		name string
		body proto.Message
		want string
	}{
		{"user", &syv1.UserNotification{Category: "pairing", Title: "Pairing code", Message: "Enter 123456 on the device"},
			`{"Type":2,"Data":{"Category":"pairing","Title":"Pairing code","Message":"Enter 123456 on the device"}}`},
		{"user details", &syv1.UserNotification{Category: "pairing", Title: "T", Message: "M", Details: details},
			`{"Type":2,"Data":{"Category":"pairing","Title":"T","Message":"M","Details":{"code":"123456","device_id":"dev-1"}}}`},
		{"app", &syv1.AppNotification{Operation: "sessions.create", EndpointAddress: "/v1/sessions", HttpMethod: "POST", Origin: "<ui>&"},
			`{"Type":4,"Data":{"Operation":"sessions.create","EndpointAddress":"/v1/sessions","HttpMethod":"POST","Origin":"<ui>&"}}`},
		{"app no origin", &syv1.AppNotification{Operation: "files.delete", EndpointAddress: "/v1/files/f-1", HttpMethod: "DELETE"},
			`{"Type":4,"Data":{"Operation":"files.delete","EndpointAddress":"/v1/files/f-1","HttpMethod":"DELETE","Origin":""}}`},
		{"update", &syv1.AppUpdateProgress{Data: upd},
			`{"Type":8,"Data":{"percent":42,"state":"downloading","version":"1.2.3"}}`},
		{"update empty", &syv1.AppUpdateProgress{}, `{"Type":8,"Data":{}}`},
	} {
		env, err := Wrap("e-1", c.body)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Render(env)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(ev.JSON) != c.want || ev.Channel != ChannelNotification {
			t.Errorf("%s:\n got %s\nwant %s", c.name, ev.JSON, c.want)
		}
	}
}

// State is the FileState number, combined flags OR-ed, as in the document.
func TestStateChangeFrames(t *testing.T) {
	for s, want := range map[FileState]string{
		StateNormal: "Normal", StateTemporary: "Temporary", StateDownloading: "Downloading", StateUploading: "Uploading",
		StateDeleting: "Deleting", StateIgnore: "Ignore", StateRenameDeleting: "RenameDeleting", StateDeleted: "Deleted",
		StateReading: "Reading", StateError: "Error", StateTemporary | StateUploading: "Temporary, Uploading",
	} {
		env, _ := Wrap("e", &syv1.FileStateChange{Path: "sess-1/a.txt", StorageName: "sy_files", State: uint32(s)})
		ev, err := Render(env)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON := `{"Path":"sess-1/a.txt","StorageName":"sy_files","State":` + itoa(uint64(s)) + `}`
		if string(ev.JSON) != wantJSON || ev.Channel != ChannelStateChange || ev.Type != 0 {
			t.Errorf("%v: %s", s, ev.JSON)
		}
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
	if _, err := EncodeStateChange(&syv1.FileStateChange{State: 512}); err == nil {
		t.Fatal("state 512 rendered")
	}
	if FileState(512).String() != "FileState(512)" || FileState(512).Valid() {
		t.Fatal("512 is not a FileState")
	}
}

// The document's values, literally.
func TestDocumentValues(t *testing.T) {
	want := map[string]uint64{"Progress": 1, "UserNotification": 2, "AppNotification": 4, "AppUpdateProgress": 8}
	for _, n := range typeNames {
		if want[n.name] != uint64(n.t) || n.t.String() != n.name {
			t.Errorf("%s = %d", n.name, n.t)
		}
	}
	states := map[string]uint64{"Temporary": 1, "Downloading": 2, "Uploading": 4, "Deleting": 8, "Ignore": 16,
		"RenameDeleting": 32, "Deleted": 64, "Reading": 128, "Error": 256}
	for _, n := range stateNames {
		if states[n.name] != uint64(n.s) {
			t.Errorf("%s = %d", n.name, n.s)
		}
	}
	if len(stateNames) != len(states) || StateNormal != 0 {
		t.Fatal("FileState table differs from the document")
	}
}

func TestRenderRefusesOtherBodies(t *testing.T) {
	if _, err := Render(&syv1.Envelope{Type: "user.message", Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{}}}); err == nil {
		t.Fatal("rendered a user.message")
	}
	if _, err := Wrap("x", &syv1.UserMessage{}); err == nil {
		t.Fatal("wrapped a user.message")
	}
}

// An event survives the bus: marshalled, unmarshalled, rendered the same.
func TestWrapRoundTripsThroughProtobuf(t *testing.T) {
	env, err := Wrap("e-9", progress(syv1.TransferStatus_TRANSFER_STATUS_COMPLETED, ""))
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != KindProgress || Subject(env.Type) != "sy.push.progress" {
		t.Fatalf("kind %q subject %q", env.Type, Subject(env.Type))
	}
	b, _ := proto.Marshal(env)
	var back syv1.Envelope
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	e1, _ := Render(env)
	e2, err := Render(&back)
	if err != nil || string(e1.JSON) != string(e2.JSON) || e2.Scope.GetUserId() != "alice" || e2.Type != TypeProgress {
		t.Fatalf("round trip: %v %s", err, e2.JSON)
	}
}

func TestParseFilter(t *testing.T) {
	for q, want := range map[string]NotificationType{
		"": AllTypes, "types=": AllTypes, "types=1,2": TypeProgress | TypeUserNotification,
		"types=8": TypeAppUpdateProgress, "types=3": 3, "types=15": AllTypes,
		"types=progress,AppNotification": TypeProgress | TypeAppNotification,
		"types=1&types=4":                TypeProgress | TypeAppNotification, "types=+2+,+": TypeUserNotification,
		"other=1": AllTypes,
	} {
		v, _ := url.ParseQuery(q)
		f, err := ParseFilter(v)
		if err != nil || f.Types != want {
			t.Errorf("%q: %v %v, want %v", q, f.Types, err, want)
		}
	}
	for _, q := range []string{"types=0", "types=16", "types=x", "types=1,17", "types=-1", "types=256"} {
		v, _ := url.ParseQuery(q)
		var fe *FilterError
		if _, err := ParseFilter(v); !errors.As(err, &fe) || fe.Param != "types" {
			t.Errorf("%q: %v", q, err)
		}
	}
	f := Filter{Types: TypeProgress}
	if !f.Allows(TypeProgress) || f.Allows(TypeUserNotification) || !f.Allows(0) {
		t.Fatal("Allows")
	}
}

func TestVisible(t *testing.T) {
	alice := Reader{UserID: "alice", Org: "acme"}
	bob := Reader{UserID: "bob"}
	anon := Reader{}
	admin := Reader{Admin: true}
	cases := []struct {
		scope *syv1.PushScope
		want  map[string]bool
	}{
		{&syv1.PushScope{UserId: "alice"}, map[string]bool{"alice": true, "bob": false, "anon": false, "admin": true}},
		{&syv1.PushScope{UserId: "alice", DeviceId: "d-1", Org: "acme"}, map[string]bool{"alice": true, "bob": false, "anon": false, "admin": true}},
		{&syv1.PushScope{HubWide: true}, map[string]bool{"alice": true, "bob": true, "anon": true, "admin": true}},
		{&syv1.PushScope{HubWide: true, Org: "acme"}, map[string]bool{"alice": true, "bob": false, "anon": false, "admin": true}},
		{&syv1.PushScope{}, map[string]bool{"alice": false, "bob": false, "anon": false, "admin": true}},
		{nil, map[string]bool{"alice": false, "bob": false, "anon": false, "admin": true}},
	}
	readers := map[string]Reader{"alice": alice, "bob": bob, "anon": anon, "admin": admin}
	for i, c := range cases {
		for name, r := range readers {
			if got := Visible(r, c.scope); got != c.want[name] {
				t.Errorf("case %d reader %s: %v", i, name, got)
			}
		}
	}
}

func TestThrottle(t *testing.T) {
	th := NewThrottle(4)
	p := &syv1.TransferProgress{TransferId: "a", Status: syv1.TransferStatus_TRANSFER_STATUS_IN_PROGRESS}
	other := &syv1.TransferProgress{TransferId: "b"}
	now := t0
	if !th.Allow(p, now) || th.Allow(p, now.Add(100*time.Millisecond)) || !th.Allow(other, now.Add(100*time.Millisecond)) {
		t.Fatal("first frame of each transfer passes, a second within 250ms does not")
	}
	if !th.Allow(p, now.Add(250*time.Millisecond)) {
		t.Fatal("a frame after the interval passes")
	}
	done := &syv1.TransferProgress{TransferId: "a", Status: syv1.TransferStatus_TRANSFER_STATUS_COMPLETED}
	if !th.Allow(done, now.Add(260*time.Millisecond)) || th.Len() != 1 {
		t.Fatalf("final frame passes and forgets the transfer (len %d)", th.Len())
	}
	if !th.Allow(other, now.Add(time.Hour)) || th.Len() != 1 {
		t.Fatalf("idle transfers are forgotten (len %d)", th.Len())
	}
}

func dataOf(t *testing.T, frame []byte) json.RawMessage {
	t.Helper()
	var n struct {
		Data json.RawMessage
	}
	mustUnmarshal(t, frame, &n)
	return n.Data
}

func keys(t *testing.T, obj string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(obj))
	var out []string
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				depth++
				expectKey = depth == 1
			} else if v == '}' {
				depth--
			}
		case string:
			if depth == 1 && expectKey {
				out = append(out, v)
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
