package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// documentExamples are the payloads of document 001, verbatim (the two
// examples with "..." placeholders are completed where the JSON needs it:
// the capabilities list and the artwork URLs).
var documentExamples = []struct{ typ, payload string }{
	{TypeHubConnected, `{
  "name": "CapyDeploy Hub",
  "version": "0.1.0",
  "hubId": "hub-abc123",
  "token": "stored-token-or-empty"
}`},
	{TypePairingRequired, `{
  "code": "123456",
  "expiresIn": 60
}`},
	{TypePairConfirm, `{ "code": "123456" }`},
	{TypePairSuccess, `{ "token": "secure-auth-token..." }`},
	{TypePairFailed, `{ "reason": "invalid code" }`},
	{TypeAgentStatus, `{
  "name": "Steam Deck",
  "version": "0.1.0",
  "platform": "linux",
  "acceptConnections": true
}`},
	{TypeInfoResponse, `{
  "agent": {
    "id": "agent-abc123",
    "name": "Steam Deck",
    "platform": "linux",
    "capabilities": ["file_upload", "steam_shortcuts"]
  }
}`},
	{TypeConfigResponse, `{ "installPath": "/home/deck/Games" }`},
	{TypeSteamUsersResponse, `{
  "users": [
    { "id": "76561198012345678", "name": "Gamer" }
  ]
}`},
	{TypeListShortcuts, `{ "userId": 76561198012345678 }`},
	{TypeShortcutsResponse, `{
  "shortcuts": [
    {
      "appId": 2857492837,
      "name": "Celeste",
      "exe": "/home/deck/Games/Celeste/Celeste.exe"
    }
  ]
}`},
	{TypeCreateShortcut, `{
  "userId": 76561198012345678,
  "shortcut": {
    "name": "Celeste",
    "exe": "/path/to/Celeste.exe",
    "startDir": "/path/to/game",
    "artwork": { "grid": "https://...", "hero": "https://..." }
  }
}`},
	{TypeOperationResult, `{ "appId": 2857492837 }`},
	{TypeDeleteShortcut, `{
  "userId": "76561198012345678",
  "appId": 2857492837,
  "restartSteam": true
}`},
	{TypeApplyArtwork, `{
  "userId": "76561198012345678",
  "appId": 2857492837,
  "artwork": {
    "grid": "https://...",
    "hero": "https://...",
    "logo": "https://..."
  }
}`},
	{TypeArtworkResponse, `{
  "applied": ["grid", "hero"],
  "failed": [{"type": "logo", "error": "download failed"}]
}`},
	{TypeSteamResponse, `{ "success": true, "message": "Steam restarted" }`},
	{TypeInitUpload, `{
  "config": {
    "gameName": "Celeste",
    "installPath": "/home/deck/Games",
    "executable": "Celeste.exe"
  },
  "totalSize": 1234567890,
  "files": [
    { "relativePath": "Celeste.exe", "size": 12345 },
    { "relativePath": "data/game.pak", "size": 1234555545 }
  ]
}`},
	{TypeUploadInitResponse, `{
  "uploadId": "upload-abc123",
  "chunkSize": 1048576
}`},
	{TypeUploadChunkResponse, `{
  "uploadId": "upload-abc123",
  "bytesWritten": 1048576,
  "totalWritten": 52428800
}`},
	{TypeCompleteUpload, `{
  "uploadId": "upload-abc123",
  "createShortcut": true,
  "shortcut": {
    "name": "Celeste",
    "exe": "Celeste.exe",
    "artwork": { "grid": "...", "hero": "..." }
  }
}`},
	{TypeOperationResult, `{
  "success": true,
  "path": "/home/deck/Games/Celeste",
  "appId": 2857492837
}`},
	{TypeCancelUpload, `{ "uploadId": "upload-abc123" }`},
	{TypeUploadProgress, `{
  "uploadId": "upload-abc123",
  "transferredBytes": 524288000,
  "totalBytes": 1234567890,
  "currentFile": "data/game.pak",
  "percentage": 42.5
}`},
	{TypeOperationEvent, `{
  "type": "install",
  "status": "complete",
  "gameName": "Celeste",
  "progress": 100,
  "message": "Installation complete"
}`},
	// Switchyard's extension, as docs/protocol-notes.md shows it.
	{TypeGetUploadStatus, `{ "uploadId": "upload-abc123" }`},
	{TypeUploadStatusResponse, `{
  "uploadId": "upload-abc123",
  "chunkSize": 1048576,
  "totalSize": 1234567890,
  "totalWritten": 2109440,
  "files": [
    { "path": "Celeste.exe", "size": 12345, "ranges": [[0, 12345]] },
    { "path": "data/game.pak", "size": 1234555545, "ranges": [[0, 1048576], [2097152, 3145728]] }
  ]
}`},
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return b.String()
}

// TestDocumentExamplesRoundTrip: every example of the document decodes
// into its typed body and re-encodes byte for byte (after compaction).
func TestDocumentExamplesRoundTrip(t *testing.T) {
	for _, ex := range documentExamples {
		t.Run(ex.typ, func(t *testing.T) {
			in := `{"id":"msg-1","type":"` + ex.typ + `","payload":` + ex.payload + `}`
			f, err := Decode([]byte(in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !f.Known || f.Body == nil || f.ID != "msg-1" || f.Type != ex.typ {
				t.Fatalf("frame = %+v", f)
			}
			out, encErr := Encode(f.ID, f.Type, f.Body)
			if encErr != nil {
				t.Fatal(encErr)
			}
			if want := compact(t, in); string(out) != want {
				t.Fatalf("re-encoded\n got %s\nwant %s", out, want)
			}
		})
	}
}

// TestEnvelopeExample is the document's message-format example.
func TestEnvelopeExample(t *testing.T) {
	in := `{
  "id": "unique-id",
  "type": "message_type",
  "payload": { "x": 1 },
  "error": { "code": 400, "message": "..." }
}`
	f, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if f.Known || f.Body != nil || f.Error == nil || *f.Error != (WireError{Code: 400, Message: "..."}) || string(f.Payload) != `{ "x": 1 }` {
		t.Fatalf("frame = %+v", f)
	}
	b, _ := json.Marshal(f.Message)
	if want := compact(t, in); string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
}

func TestUserIDEitherForm(t *testing.T) {
	for _, typ := range []string{TypeListShortcuts, TypeDeleteShortcut, TypeApplyArtwork, TypeCreateShortcut} {
		for _, form := range []string{`76561198012345678`, `"76561198012345678"`} {
			in := `{"id":"1","type":"` + typ + `","payload":{"userId":` + form + `,"appId":1,"shortcut":{"name":"n","exe":"e"},"artwork":{}}}`
			f, err := Decode([]byte(in))
			if err != nil {
				t.Fatalf("%s %s: %v", typ, form, err)
			}
			var u UserID
			switch b := f.Body.(type) {
			case *ListShortcuts:
				u = b.UserID
			case *DeleteShortcut:
				u = b.UserID
			case *ApplyArtwork:
				u = b.UserID
			case *CreateShortcut:
				u = b.UserID
			}
			if u.Digits != "76561198012345678" || u.Number != (form[0] != '"') {
				t.Fatalf("%s %s: userId = %+v", typ, form, u)
			}
			if b, _ := json.Marshal(u); string(b) != form {
				t.Fatalf("%s: re-encoded %s, want %s", typ, b, form)
			}
			if n, err := u.Uint64(); err != nil || n != 76561198012345678 {
				t.Fatalf("Uint64 = %d %v", n, err)
			}
		}
	}
	for _, bad := range []string{`-1`, `1.5`, `1e3`, `"abc"`, `true`, `{}`, `"12 3"`} {
		var u UserID
		if err := json.Unmarshal([]byte(bad), &u); err == nil {
			t.Errorf("userId %s accepted as %+v", bad, u)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
		id       string
	}{
		{"not json", `nope`, ErrNotJSON, ""},
		{"array", `[1]`, ErrNotJSON, ""},
		{"null", `null`, ErrNotJSON, ""},
		{"empty", ``, ErrNotJSON, ""},
		{"type not string", `{"id":"a","type":5}`, ErrNotJSON, "a"},
		{"payload not object", `{"id":"a","type":"get_info","payload":"x"}`, ErrBadPayload, "a"},
		{"no type", `{"id":"a"}`, ErrNoType, "a"},
		{"hub_connected without payload", `{"id":"h","type":"hub_connected"}`, ErrMissingField, "h"},
		{"pair_confirm without code", `{"id":"p","type":"pair_confirm","payload":{}}`, ErrMissingField, "p"},
		{"pair_confirm code number", `{"id":"p","type":"pair_confirm","payload":{"code":123456}}`, ErrBadPayload, "p"},
		{"init without files", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"totalSize":0,"files":[]}}`, ErrMissingField, "i"},
		{"init without game", `{"id":"i","type":"init_upload","payload":{"config":{},"files":[{"relativePath":"a","size":1}]}}`, ErrMissingField, "i"},
		{"init game with slash", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"../x"},"files":[{"relativePath":"a","size":1}]}}`, ErrBadPath, "i"},
		{"init traversal", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"../etc/passwd","size":1}]}}`, ErrBadPath, "i"},
		{"init absolute", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"/etc/passwd","size":1}]}}`, ErrBadPath, "i"},
		{"init windows traversal", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"a\\..\\..\\b","size":1}]}}`, ErrBadPath, "i"},
		{"init drive", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"C:\\x","size":1}]}}`, ErrBadPath, "i"},
		{"init duplicate", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"a","size":1},{"relativePath":"./a","size":1}]}}`, ErrBadPayload, "i"},
		{"init negative size", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"a","size":-1}]}}`, ErrBadPayload, "i"},
		{"init total mismatch", `{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"totalSize":5,"files":[{"relativePath":"a","size":1}]}}`, ErrBadPayload, "i"},
		{"complete without id", `{"id":"c","type":"complete_upload","payload":{"createShortcut":false}}`, ErrMissingField, "c"},
		{"cancel without payload", `{"id":"c","type":"cancel_upload"}`, ErrMissingField, "c"},
		{"status without id", `{"id":"s","type":"get_upload_status","payload":{}}`, ErrMissingField, "s"},
		{"bad userId", `{"id":"l","type":"list_shortcuts","payload":{"userId":"me"}}`, ErrBadPayload, "l"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Decode([]byte(c.in))
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			if err.Code != CodeBadRequest || !errors.Is(err, c.want) || err.ID != c.id {
				t.Fatalf("err = %+v (code %d, id %q), want %v id %q", err, err.Code, err.ID, c.want, c.id)
			}
			var m Message
			if json.Unmarshal(ErrorFor(err), &m) != nil || m.Type != TypeError || m.ID != c.id || m.Error == nil || m.Error.Code != 400 || m.Error.Message == "" {
				t.Fatalf("error reply = %s", ErrorFor(err))
			}
		})
	}
}

func TestDecodeLiberal(t *testing.T) {
	// Unknown types pass through for the device, payload untouched.
	f, err := Decode([]byte(`{"id":"x","type":"delete_game","payload":{"appId":1}}`))
	if err != nil || f.Known || f.Body != nil || string(f.Payload) != `{"appId":1}` {
		t.Fatalf("unknown type: %+v %v", f, err)
	}
	// Payload-less requests, with or without id or payload.
	for _, in := range []string{`{"type":"ping"}`, `{"id":"p","type":"get_info","payload":null}`, `{"id":"p","type":"get_config","payload":{}}`} {
		if f, err := Decode([]byte(in)); err != nil || !f.Known || f.Body != nil {
			t.Fatalf("%s: %+v %v", in, f, err)
		}
	}
	// A token-less handshake (first contact) and extra fields.
	f, err = Decode([]byte(`{"id":"h","type":"hub_connected","payload":{"name":"Hub","version":"1","platform":"windows","hubId":"h1","extra":1}}`))
	if err != nil || *f.Body.(*HubConnected) != (HubConnected{Name: "Hub", Version: "1", Platform: "windows", HubID: "h1"}) {
		t.Fatalf("hub_connected: %+v %v", f, err)
	}
	// Windows paths become '/', totalSize 0 becomes the sum.
	f, err = Decode([]byte(`{"id":"i","type":"init_upload","payload":{"config":{"gameName":"G"},"files":[{"relativePath":"data\\game.pak","size":3},{"relativePath":"./a//b","size":4}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	in := f.Body.(*InitUpload)
	if in.Files[0].RelativePath != "data/game.pak" || in.Files[1].RelativePath != "a/b" || in.TotalSize != 7 {
		t.Fatalf("init = %+v", in)
	}
}

func TestRepliesAndErrors(t *testing.T) {
	req := &Message{ID: "r1", Type: TypeGetConfig}
	b, err := Reply(req, ConfigResponse{InstallPath: "/games"})
	if err != nil || string(b) != `{"id":"r1","type":"config_response","payload":{"installPath":"/games"}}` {
		t.Fatalf("reply = %s %v", b, err)
	}
	if _, err := Reply(&Message{ID: "x", Type: "delete_game"}, nil); err == nil {
		t.Fatal("reply to an undocumented request accepted")
	}
	if got := string(ErrorReply("r2", CodeNotImplemented, "")); got != `{"id":"r2","type":"error","error":{"code":501,"message":"Not Implemented"}}` {
		t.Fatalf("error reply = %s", got)
	}
	if got, _ := Encode("", TypePong, nil); string(got) != `{"id":"","type":"pong"}` {
		t.Fatalf("pong = %s", got)
	}
	raw, err := EncodeRaw("r3", "delete_game_response", []byte(`{"status":"ok"}`))
	if err != nil || string(raw) != `{"id":"r3","type":"delete_game_response","payload":{"status":"ok"}}` {
		t.Fatalf("raw = %s %v", raw, err)
	}
	if _, err := EncodeRaw("r", "t", []byte(`{`)); err == nil {
		t.Fatal("invalid raw payload encoded")
	}
	for req, resp := range map[string]string{TypeGetInfo: TypeInfoResponse, TypeCreateShortcut: TypeOperationResult, TypeDeleteShortcut: TypeOperationResult,
		TypeApplyArtwork: TypeArtworkResponse, TypeRestartSteam: TypeSteamResponse, TypeInitUpload: TypeUploadInitResponse,
		TypeCompleteUpload: TypeOperationResult, TypeGetSteamUsers: TypeSteamUsersResponse, TypeListShortcuts: TypeShortcutsResponse} {
		if ResponseType(req) != resp {
			t.Errorf("ResponseType(%s) = %s, want %s", req, ResponseType(req), resp)
		}
	}
}

func TestCleanPath(t *testing.T) {
	good := map[string]string{"a": "a", "a/b": "a/b", `a\b`: "a/b", "./a": "a", "a//b/": "a/b", "a/./b": "a/b", "..a": "..a", "a..": "a.."}
	for in, want := range good {
		if got, err := CleanPath(in); err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "/", "/a", "..", "../a", "a/../b", `\a`, `a\..\b`, "C:a", "c:/x", "a\x00b", "a\nb", strings.Repeat("a", 4097)} {
		if got, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := CleanName("a/b"); err == nil {
		t.Error("CleanName accepted a path")
	}
}

func TestArtworkKinds(t *testing.T) {
	a := &Artwork{Grid: "g", Logo: "l"}
	if got := a.Kinds(); !reflect.DeepEqual(got, []string{"grid", "logo"}) {
		t.Fatalf("kinds = %v", got)
	}
}

func TestFromController(t *testing.T) {
	for _, typ := range []string{TypeHubConnected, TypePairConfirm, TypePing, TypePong, TypeGetInfo, TypeInitUpload, TypeCompleteUpload, TypeCancelUpload, TypeGetUploadStatus, "delete_game"} {
		if !FromController(typ) {
			t.Errorf("%s refused from a controller", typ)
		}
	}
	for _, typ := range []string{TypeAgentStatus, TypePairSuccess, TypeInfoResponse, TypeUploadProgress, TypeOperationEvent, TypeError, ""} {
		if FromController(typ) {
			t.Errorf("%q accepted from a controller", typ)
		}
	}
}
