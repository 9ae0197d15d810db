package chat

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

var fuzzSeeds = []string{
	`{"type": "message", "text": "What files are in this directory?", "user_id": "user123", "channel_id": "main", "channel_session_key": "550e8400-e29b-41d4-a716-446655440000", "attachments": [{"file_name": "photo.png", "mime_type": "image/png", "data": "<base64-encoded-data>"}]}`,
	`{"type":"message","text":"x","attachments":[{"file_name":"photo.png","mime_type":"image/png","data":"iVBORw0KGgo="}]}`,
	`{"type": "message", "text": "List files"}`,
	`{"type": "message", "text": "also check hidden files"}`,
	`{"type":"message","text":"","attachments":[{"file_name":"a","data":"data:;base64,aGk"}]}`,
	`{"type":"stream_start","session_id":"abc123"}`,
	`{"type":1}`, `{"text":"x"}`, `[]`, `null`, `"x"`, ``, `{`, `{"type":"message","text":"\ud800"}`,
}

// FuzzDecode: Decode never panics and returns exactly one of a Message and
// an *Error; an error has a documented code and renders as the document's
// {"type":"error","message"} with a message; an accepted message has a
// channel, and re-sent as the client would send it decodes to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if (m == nil) == (err == nil) {
			t.Fatalf("%q: message %v and error %v", data, m, err)
		}
		if err != nil {
			checkError(t, data, err)
			return
		}
		if m.ChannelID == "" || len(m.ChannelID) > MaxIDBytes {
			t.Fatalf("%q: channel %q", data, m.ChannelID)
		}
		again, err := Decode(resend(t, m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q: resent as %s: %+v %v", data, resend(t, m), again, err)
		}
	})
}

func checkError(t *testing.T, data []byte, err *Error) {
	t.Helper()
	switch err.Code {
	case errcode.InvalidJSON, errcode.InvalidMessage, errcode.UnknownType:
	default:
		t.Fatalf("%q: code %q", data, err.Code)
	}
	var frame map[string]any
	if e := json.Unmarshal(err.Frame(), &frame); e != nil || len(frame) != 2 || frame["type"] != "error" || frame["message"] == "" {
		t.Fatalf("%q: error frame %s", data, err.Frame())
	}
}

func resend(t *testing.T, m *Message) []byte {
	t.Helper()
	type att struct {
		FileName string `json:"file_name"`
		MimeType string `json:"mime_type"`
		Data     []byte `json:"data"`
	}
	out := struct {
		Type              string `json:"type"`
		Text              string `json:"text"`
		UserID            string `json:"user_id,omitempty"`
		ChannelID         string `json:"channel_id"`
		ChannelSessionKey string `json:"channel_session_key,omitempty"`
		Attachments       []att  `json:"attachments,omitempty"`
	}{TypeMessage, m.Text, m.UserID, m.ChannelID, m.ChannelSessionKey, nil}
	for _, a := range m.Attachments {
		out.Attachments = append(out.Attachments, att(a))
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
