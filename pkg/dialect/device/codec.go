package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// WireError is the envelope's error object.
type WireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Message is the document's envelope. ID is always rendered (the document
// shows it on every message; push events carry "").
type Message struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *WireError      `json:"error,omitempty"`
}

// Frame is a decoded text frame from a controller.
type Frame struct {
	Message
	// Known is true for the types the document (or Switchyard's extension)
	// defines; the hub relays other types to the device as they are.
	Known bool
	// Body is the typed payload of a known request: *HubConnected,
	// *PairConfirm, *ListShortcuts, *CreateShortcut, *DeleteShortcut,
	// *ApplyArtwork, *InitUpload, *CompleteUpload, *CancelUpload,
	// *GetUploadStatus, or a response/event type when a device-side frame
	// is decoded. Nil for payload-less requests (get_info, ping, …) and
	// unknown types.
	Body any
}

// Error is a decode failure: the code to answer with, a message for the
// sender, and the id and type of the frame when they could be read (the
// error reply carries the id). Err is one of the Err* sentinels.
type Error struct {
	Code    int
	Message string
	ID      string
	Type    string
	Err     error
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// Unwrap lets errors.Is match the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Decode failures of text frames (every one answered with 400).
var (
	ErrNotJSON      = errors.New("frame is not a JSON object")
	ErrNoType       = errors.New("frame has no type")
	ErrBadPayload   = errors.New("payload is malformed")
	ErrMissingField = errors.New("a required field is missing")
	ErrBadPath      = errors.New("a file path is not a clean relative path")
)

func badRequest(sentinel error, format string, a ...any) *Error {
	return &Error{Code: CodeBadRequest, Message: fmt.Sprintf(format, a...), Err: sentinel}
}

// bodyOf makes the typed payload of each type the codec validates.
var bodyOf = map[string]func() any{
	TypeHubConnected:    func() any { return new(HubConnected) },
	TypePairConfirm:     func() any { return new(PairConfirm) },
	TypeListShortcuts:   func() any { return new(ListShortcuts) },
	TypeCreateShortcut:  func() any { return new(CreateShortcut) },
	TypeDeleteShortcut:  func() any { return new(DeleteShortcut) },
	TypeApplyArtwork:    func() any { return new(ApplyArtwork) },
	TypeInitUpload:      func() any { return new(InitUpload) },
	TypeCompleteUpload:  func() any { return new(CompleteUpload) },
	TypeCancelUpload:    func() any { return new(CancelUpload) },
	TypeGetUploadStatus: func() any { return new(GetUploadStatus) },

	// Device → controller types: decoded by the example controller and
	// the tests, never sent to the hub by a controller.
	TypeAgentStatus:          func() any { return new(AgentStatus) },
	TypePairingRequired:      func() any { return new(PairingRequired) },
	TypePairSuccess:          func() any { return new(PairSuccess) },
	TypePairFailed:           func() any { return new(PairFailed) },
	TypeInfoResponse:         func() any { return new(InfoResponse) },
	TypeConfigResponse:       func() any { return new(ConfigResponse) },
	TypeSteamUsersResponse:   func() any { return new(SteamUsersResponse) },
	TypeShortcutsResponse:    func() any { return new(ShortcutsResponse) },
	TypeOperationResult:      func() any { return new(OperationResult) },
	TypeArtworkResponse:      func() any { return new(ArtworkResponse) },
	TypeSteamResponse:        func() any { return new(SteamResponse) },
	TypeUploadInitResponse:   func() any { return new(UploadInitResponse) },
	TypeUploadChunkResponse:  func() any { return new(UploadChunkResponse) },
	TypeUploadProgress:       func() any { return new(UploadProgress) },
	TypeOperationEvent:       func() any { return new(OperationEvent) },
	TypeUploadStatusResponse: func() any { return new(UploadStatusResponse) },
}

// payloadless are known types whose payload, if any, is ignored.
var payloadless = map[string]bool{
	TypePing: true, TypePong: true, TypeGetInfo: true, TypeGetConfig: true,
	TypeGetSteamUsers: true, TypeRestartSteam: true, TypeError: true,
}

// required lists the types that cannot go without a payload.
var required = map[string]bool{
	TypeHubConnected: true, TypePairConfirm: true, TypeInitUpload: true,
	TypeCompleteUpload: true, TypeCancelUpload: true, TypeGetUploadStatus: true,
	TypeCreateShortcut: true, TypeDeleteShortcut: true, TypeApplyArtwork: true,
}

// IsKnown reports whether typ is a type of the document or of
// Switchyard's extension.
func IsKnown(typ string) bool { return bodyOf[typ] != nil || payloadless[typ] }

// Decode parses one text frame. The envelope must be a JSON object with a
// non-empty string type; id and payload are optional (a frame without an
// id is answered with id ""). Known types get their payload validated
// into Body; unknown types pass with Known false and the payload as it
// came, for the hub to relay to the device.
func Decode(data []byte) (*Frame, *Error) {
	if !isObject(data) {
		return nil, badRequest(ErrNotJSON, "frame is not a JSON object")
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		e := badRequest(ErrNotJSON, "frame is not a valid envelope: %v", err)
		e.ID, e.Type = peekIDType(data)
		return nil, e
	}
	if m.Type == "" {
		return nil, &Error{Code: CodeBadRequest, Message: "frame has no type", ID: m.ID, Err: ErrNoType}
	}
	f := &Frame{Message: m, Known: IsKnown(m.Type)}
	if err := decodeBody(f); err != nil {
		err.ID, err.Type = m.ID, m.Type
		return nil, err
	}
	return f, nil
}

// peekIDType reads id and type of a frame that failed to decode as a
// whole (say, a payload that is a string), so the error can carry the id.
func peekIDType(data []byte) (id, typ string) {
	var p struct {
		ID   any `json:"id"`
		Type any `json:"type"`
	}
	if json.Unmarshal(data, &p) != nil {
		return "", ""
	}
	id, _ = p.ID.(string)
	typ, _ = p.Type.(string)
	return id, typ
}

func isObject(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && utf8.Valid(data)
}

func hasPayload(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func decodeBody(f *Frame) *Error {
	if hasPayload(f.Payload) && !isObject(f.Payload) {
		return badRequest(ErrBadPayload, "%s payload must be a JSON object", f.Type)
	}
	mk := bodyOf[f.Type]
	if mk == nil {
		return nil
	}
	if !hasPayload(f.Payload) {
		if required[f.Type] {
			return badRequest(ErrMissingField, "%s needs a payload", f.Type)
		}
		return nil
	}
	body := mk()
	if err := json.Unmarshal(f.Payload, body); err != nil {
		return badRequest(ErrBadPayload, "%s payload: %v", f.Type, err)
	}
	if err := validate(body); err != nil {
		return err
	}
	f.Body = body
	return nil
}

// validate checks what the document needs for the hub to act.
func validate(body any) *Error {
	switch b := body.(type) {
	case *PairConfirm:
		if b.Code == "" {
			return badRequest(ErrMissingField, "pair_confirm needs a code")
		}
	case *InitUpload:
		return validateInit(b)
	case *CompleteUpload:
		return needUploadID(TypeCompleteUpload, b.UploadID)
	case *CancelUpload:
		return needUploadID(TypeCancelUpload, b.UploadID)
	case *GetUploadStatus:
		return needUploadID(TypeGetUploadStatus, b.UploadID)
	case *CreateShortcut:
		if b.Shortcut.Name == "" {
			return badRequest(ErrMissingField, "create_shortcut needs shortcut.name")
		}
	case *DeleteShortcut, *ApplyArtwork:
		return validateAppID(body)
	}
	return nil
}

func validateAppID(body any) *Error {
	var appID int64
	var typ string
	switch b := body.(type) {
	case *DeleteShortcut:
		appID, typ = b.AppID, TypeDeleteShortcut
	case *ApplyArtwork:
		appID, typ = b.AppID, TypeApplyArtwork
	}
	if appID < 0 {
		return badRequest(ErrBadPayload, "%s: appId must not be negative", typ)
	}
	return nil
}

func needUploadID(typ, id string) *Error {
	if id == "" {
		return badRequest(ErrMissingField, "%s needs an uploadId", typ)
	}
	return nil
}

func validateInit(b *InitUpload) *Error {
	if len(b.Files) == 0 {
		return badRequest(ErrMissingField, "init_upload needs at least one file")
	}
	if b.Config.GameName == "" {
		return badRequest(ErrMissingField, "init_upload needs config.gameName")
	}
	if _, err := CleanName(b.Config.GameName); err != nil {
		return badRequest(ErrBadPath, "init_upload config.gameName: %v", err)
	}
	seen := make(map[string]bool, len(b.Files))
	var sum int64
	for i := range b.Files {
		f := &b.Files[i]
		p, err := CleanPath(f.RelativePath)
		if err != nil {
			return badRequest(ErrBadPath, "init_upload files[%d].relativePath %q: %v", i, f.RelativePath, err)
		}
		if seen[p] {
			return badRequest(ErrBadPayload, "init_upload declares %q twice", p)
		}
		seen[p] = true
		f.RelativePath = p
		if f.Size < 0 || sum+f.Size < sum {
			return badRequest(ErrBadPayload, "init_upload files[%d].size must be a non-negative size", i)
		}
		sum += f.Size
	}
	switch {
	case b.TotalSize == 0:
		b.TotalSize = sum
	case b.TotalSize != sum:
		return badRequest(ErrBadPayload, "init_upload totalSize %d is not the sum of the file sizes (%d)", b.TotalSize, sum)
	}
	return nil
}

// Encode renders a message with a payload (any JSON-marshalable value;
// nil for none).
func Encode(id, typ string, payload any) ([]byte, error) {
	m := Message{ID: id, Type: typ}
	if payload != nil {
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("device: encode %s payload: %w", typ, err)
		}
		m.Payload = raw
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("device: encode %s: %w", typ, err)
	}
	return b, nil
}

// EncodeRaw renders a message whose payload is already JSON (the device's
// answer as it came over the runtime socket). raw must be a JSON object,
// or empty for none.
func EncodeRaw(id, typ string, raw []byte) ([]byte, error) {
	if len(raw) > 0 && !json.Valid(raw) {
		return nil, fmt.Errorf("device: encode %s: payload is not JSON", typ)
	}
	b, err := json.Marshal(Message{ID: id, Type: typ, Payload: raw})
	if err != nil {
		return nil, fmt.Errorf("device: encode %s: %w", typ, err)
	}
	return b, nil
}

// Reply renders the successful answer to request req (with req's id and
// its documented response type). A request the document does not list
// has no response type: use Encode with the type the device named.
func Reply(req *Message, payload any) ([]byte, error) {
	typ := ResponseType(req.Type)
	if typ == "" {
		return nil, fmt.Errorf("device: %q has no documented response type", req.Type)
	}
	return Encode(req.ID, typ, payload)
}

// ErrorReply renders an error answer: type "error", the request's id and
// error {code, message}. An empty message becomes the document's text for
// the code.
func ErrorReply(id string, code int, message string) []byte {
	if message == "" {
		message = CodeText[code]
	}
	b, _ := json.Marshal(Message{ID: id, Type: TypeError, Error: &WireError{Code: code, Message: message}})
	return b
}

// ErrorFor renders the error answer to a decode failure.
func ErrorFor(e *Error) []byte { return ErrorReply(e.ID, e.Code, e.Message) }

// ParsePayload unmarshals a message's payload into T (a Message that came
// from another program, e.g. in the example controller).
func ParsePayload[T any](m *Message) (*T, error) {
	v := new(T)
	if !hasPayload(m.Payload) {
		return v, nil
	}
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return nil, fmt.Errorf("device: %s payload: %w", m.Type, err)
	}
	return v, nil
}
