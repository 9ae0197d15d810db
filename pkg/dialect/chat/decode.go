// Package chat is the codec of the chat-stream dialect (document 002 in
// shared/seeds): a chat UI sends {"type":"message","text":…} and receives
// stream_start, text_delta, tool_use, tool_result, stream_end, error and
// notification frames. Decode is pure and total: every input yields a
// *Message or an *Error whose Frame is the document's
// {"type":"error","message":…}.
package chat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// TypeMessage is the one client→server type of the dialect.
const TypeMessage = "message"

// DefaultChannel is channel_id when the client sends none.
const DefaultChannel = "main"

// MaxIDBytes bounds user_id, channel_id and channel_session_key.
const MaxIDBytes = 256

// Message is a decoded client frame.
type Message struct {
	Text string
	// UserID is the client's own label for its user (optional); the token,
	// not this field, says who the user is.
	UserID string
	// ChannelID is "main" when absent.
	ChannelID string
	// ChannelSessionKey continues a session across connections; empty
	// when absent.
	ChannelSessionKey string
	Attachments       []Attachment
}

// Attachment is one decoded file of a message.
type Attachment struct {
	FileName string
	// MimeType as sent, or sniffed from Data when the client sent none.
	MimeType string
	Data     []byte
}

// Error is a frame the hub refuses. The socket stays open; the client
// gets Frame().
type Error struct {
	// Code is the pkg/errcode code, for logs and metrics (the chat frame
	// has no code field): invalid_json, invalid_message or unknown_type.
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Frame is the document's error frame for e.
func (e *Error) Frame() []byte { return ErrorFrame(e.Message) }

func errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Decode parses one text frame from a chat client.
func Decode(data []byte) (*Message, *Error) {
	if !json.Valid(data) {
		return nil, errorf(errcode.InvalidJSON, "invalid JSON")
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errorf(errcode.InvalidJSON, "message must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, errorf(errcode.InvalidJSON, "invalid JSON")
	}
	typ, err := stringField(fields, "type", true)
	if err != nil {
		return nil, err
	}
	if typ != TypeMessage {
		return nil, errorf(errcode.UnknownType, "unknown message type %q (expected \"message\")", typ)
	}
	return decodeMessage(fields)
}

func decodeMessage(fields map[string]json.RawMessage) (*Message, *Error) {
	m := &Message{}
	var err *Error
	if m.Text, err = stringField(fields, "text", true); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"user_id", &m.UserID}, {"channel_id", &m.ChannelID}, {"channel_session_key", &m.ChannelSessionKey}} {
		if *f.dst, err = idField(fields, f.name); err != nil {
			return nil, err
		}
	}
	if m.ChannelID == "" {
		m.ChannelID = DefaultChannel
	}
	if m.Attachments, err = attachments(fields["attachments"]); err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Text) == "" && len(m.Attachments) == 0 {
		return nil, errorf(errcode.InvalidMessage, "field \"text\" must not be empty")
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// stringField reads a string field; null counts as absent.
func stringField(fields map[string]json.RawMessage, name string, required bool) (string, *Error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		if required {
			return "", errorf(errcode.InvalidMessage, "missing required field %q", name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errorf(errcode.InvalidMessage, "field %q must be a string", name)
	}
	return s, nil
}

// idField reads an optional identifier: at most MaxIDBytes, no control
// characters.
func idField(fields map[string]json.RawMessage, name string) (string, *Error) {
	s, err := stringField(fields, name, false)
	if err != nil {
		return "", err
	}
	if len(s) > MaxIDBytes {
		return "", errorf(errcode.InvalidMessage, "field %q is longer than %d bytes", name, MaxIDBytes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s) {
		return "", errorf(errcode.InvalidMessage, "field %q contains control characters", name)
	}
	return s, nil
}

func attachments(raw json.RawMessage) ([]Attachment, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errorf(errcode.InvalidMessage, "field \"attachments\" must be an array")
	}
	out := make([]Attachment, 0, len(items))
	for i, item := range items {
		a, err := attachment(item, i)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func attachment(raw json.RawMessage, i int) (Attachment, *Error) {
	var fields map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &fields) != nil {
		return Attachment{}, errorf(errcode.InvalidMessage, "attachments[%d] must be an object", i)
	}
	var a Attachment
	var err *Error
	prefix := fmt.Sprintf("attachments[%d].", i)
	if a.FileName, err = stringField(fields, "file_name", true); err != nil {
		err.Message = strings.Replace(err.Message, `"file_name"`, `"`+prefix+`file_name"`, 1)
		return a, err
	}
	if a.MimeType, err = stringField(fields, "mime_type", false); err != nil {
		err.Message = strings.Replace(err.Message, `"mime_type"`, `"`+prefix+`mime_type"`, 1)
		return a, err
	}
	data, err := stringField(fields, "data", true)
	if err != nil {
		err.Message = strings.Replace(err.Message, `"data"`, `"`+prefix+`data"`, 1)
		return a, err
	}
	if a.Data, err = decodeBase64(data); err != nil {
		err.Message = fmt.Sprintf("field %q is not valid base64", prefix+"data")
		return a, err
	}
	if a.MimeType == "" {
		a.MimeType = http.DetectContentType(a.Data)
	}
	return a, nil
}

// decodeBase64 accepts standard base64 with or without padding (line
// breaks ignored), optionally behind a data-URL prefix
// ("data:image/png;base64,…", what a browser's FileReader produces).
func decodeBase64(s string) ([]byte, *Error) {
	if strings.HasPrefix(s, "data:") {
		if i := strings.Index(s, ";base64,"); i >= 0 {
			s = s[i+len(";base64,"):]
		}
	}
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errorf(errcode.InvalidMessage, "invalid base64")
	}
	return b, nil
}
