package chat

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// compact is the document's pretty-printed example as one line, keys in
// the document's order.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The document's client example, with real base64 in place of its
// "<base64-encoded-data>" placeholder.
func TestDecodeDocumentExample(t *testing.T) {
	frame := `{
  "type": "message",
  "text": "What files are in this directory?",
  "user_id": "user123",
  "channel_id": "main",
  "channel_session_key": "550e8400-e29b-41d4-a716-446655440000",
  "attachments": [
    {
      "file_name": "photo.png",
      "mime_type": "image/png",
      "data": "iVBORw0KGgo="
    }
  ]
}`
	m, err := Decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{Text: "What files are in this directory?", UserID: "user123", ChannelID: "main",
		ChannelSessionKey: "550e8400-e29b-41d4-a716-446655440000",
		Attachments:       []Attachment{{FileName: "photo.png", MimeType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n")}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v", m)
	}
	if !IsImage(m.Attachments[0].MimeType) {
		t.Fatal("image/png is an image")
	}
}

func TestDecodeMinimalAndDefaults(t *testing.T) {
	m, err := Decode([]byte(`{"type": "message", "text": "List files"}`))
	if err != nil || m.Text != "List files" || m.ChannelID != "main" || m.ChannelSessionKey != "" || m.Attachments != nil {
		t.Fatalf("%+v %v", m, err)
	}
	m, err = Decode([]byte(`{"type":"message","text":"x","user_id":null,"channel_id":null,"attachments":null,"extra":{"ignored":true}}`))
	if err != nil || m.ChannelID != "main" || m.UserID != "" {
		t.Fatalf("%+v %v", m, err)
	}
	// Attachment only; unpadded base64; a data URL; no mime_type: sniffed.
	m, err = Decode([]byte(`{"type":"message","text":"","attachments":[{"file_name":"a.txt","data":"aGVsbG8"},{"file_name":"b.png","data":"data:image/png;base64,iVBORw0KGgo="}]}`))
	if err != nil || string(m.Attachments[0].Data) != "hello" || m.Attachments[0].MimeType != "text/plain; charset=utf-8" ||
		m.Attachments[1].MimeType != "image/png" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ in, code, message string }{
		{`{"type":"message","text":`, errcode.InvalidJSON, "invalid JSON"},
		{``, errcode.InvalidJSON, "invalid JSON"},
		{`not json`, errcode.InvalidJSON, "invalid JSON"},
		{`["message"]`, errcode.InvalidJSON, "message must be a JSON object"},
		{`"message"`, errcode.InvalidJSON, "message must be a JSON object"},
		{`null`, errcode.InvalidJSON, "message must be a JSON object"},
		{`{"text":"hi"}`, errcode.InvalidMessage, `missing required field "type"`},
		{`{"type":null,"text":"hi"}`, errcode.InvalidMessage, `missing required field "type"`},
		{`{"type":1,"text":"hi"}`, errcode.InvalidMessage, `field "type" must be a string`},
		{`{"type":"ping"}`, errcode.UnknownType, `unknown message type "ping" (expected "message")`},
		{`{"type":"Message","text":"hi"}`, errcode.UnknownType, `unknown message type "Message" (expected "message")`},
		{`{"type":"message"}`, errcode.InvalidMessage, `missing required field "text"`},
		{`{"type":"message","text":["hi"]}`, errcode.InvalidMessage, `field "text" must be a string`},
		{`{"type":"message","text":"  "}`, errcode.InvalidMessage, `field "text" must not be empty`},
		{`{"type":"message","text":"hi","user_id":5}`, errcode.InvalidMessage, `field "user_id" must be a string`},
		{`{"type":"message","text":"hi","channel_id":true}`, errcode.InvalidMessage, `field "channel_id" must be a string`},
		{`{"type":"message","text":"hi","channel_session_key":{}}`, errcode.InvalidMessage, `field "channel_session_key" must be a string`},
		{`{"type":"message","text":"hi","channel_session_key":"a\u0000b"}`, errcode.InvalidMessage, `field "channel_session_key" contains control characters`},
		{`{"type":"message","text":"hi","channel_id":"` + strings.Repeat("x", 257) + `"}`, errcode.InvalidMessage, `field "channel_id" is longer than 256 bytes`},
		{`{"type":"message","text":"hi","attachments":{}}`, errcode.InvalidMessage, `field "attachments" must be an array`},
		{`{"type":"message","text":"hi","attachments":[1]}`, errcode.InvalidMessage, `attachments[0] must be an object`},
		{`{"type":"message","text":"hi","attachments":[null]}`, errcode.InvalidMessage, `attachments[0] must be an object`},
		{`{"type":"message","text":"hi","attachments":[{"data":"aGk="}]}`, errcode.InvalidMessage, `missing required field "attachments[0].file_name"`},
		{`{"type":"message","text":"hi","attachments":[{"file_name":"a","mime_type":7,"data":"aGk="}]}`, errcode.InvalidMessage, `field "attachments[0].mime_type" must be a string`},
		{`{"type":"message","text":"hi","attachments":[{"file_name":"a"}]}`, errcode.InvalidMessage, `missing required field "attachments[0].data"`},
		{`{"type":"message","text":"hi","attachments":[{"file_name":"a","data":"aGk="},{"file_name":"b","data":"<base64-encoded-data>"}]}`, errcode.InvalidMessage, `field "attachments[1].data" is not valid base64`},
	} {
		m, err := Decode([]byte(c.in))
		if m != nil || err == nil {
			t.Errorf("%s: accepted", c.in)
			continue
		}
		if err.Code != c.code || err.Message != c.message {
			t.Errorf("%s:\n got %s %q\nwant %s %q", c.in, err.Code, err.Message, c.code, c.message)
		}
		want := `{"type":"error","message":` + jsonString(c.message) + `}`
		if string(err.Frame()) != want {
			t.Errorf("frame %s, want %s", err.Frame(), want)
		}
	}
}

func jsonString(s string) string {
	b, _ := marshalJSON(s)
	return string(b)
}

// Every server frame of the document, byte for byte (compacted).
func TestEncodersAreTheDocuments(t *testing.T) {
	input, _ := structpb.NewStruct(map[string]any{"pattern": "*"})
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{StreamStart("abc123"), `{"type": "stream_start", "session_id": "abc123"}`},
		{TextDelta("The directory contains "), `{"type": "text_delta", "text": "The directory contains "}`},
		{ToolUse("toolu_abc123", "Glob", input), `{"type": "tool_use", "id": "toolu_abc123", "name": "Glob", "input": { "pattern": "*" }}`},
		{ToolResult("toolu_abc123", "Cargo.toml\nREADME.md\nsrc/", false), `{"type": "tool_result", "tool_use_id": "toolu_abc123", "content": "Cargo.toml\nREADME.md\nsrc/", "is_error": false}`},
		{StreamEnd(End{SessionID: "abc123", NumTurns: 2, CostUSD: 0.004, InputTokens: 1200, OutputTokens: 150}),
			`{"type": "stream_end", "session_id": "abc123", "num_turns": 2, "cost_usd": 0.004, "input_tokens": 1200, "output_tokens": 150, "is_error": false, "errors": []}`},
		{ErrorFrame("API key not configured"), `{"type": "error", "message": "API key not configured"}`},
		{Notification(JobResult{JobName: "daily-summary", SessionID: "550e8400-e29b-41d4-a716-446655440000", ResultPreview: "No critical errors found today.", Success: true}),
			`{"type": "notification", "job_name": "daily-summary", "session_id": "550e8400-e29b-41d4-a716-446655440000", "result_preview": "No critical errors found today.", "success": true}`},
	} {
		if want := compact(t, c.want); string(c.got) != want {
			t.Errorf("got  %s\nwant %s", c.got, want)
		}
	}
}

func TestEncoderEdges(t *testing.T) {
	if got := string(ToolUse("t", "Bash", nil)); got != `{"type":"tool_use","id":"t","name":"Bash","input":{}}` {
		t.Error(got)
	}
	bad, _ := structpb.NewStruct(map[string]any{})
	bad.Fields["x"] = structpb.NewNumberValue(nan())
	// structpb renders NaN as the string "NaN", so the input stays JSON.
	if got := string(ToolUse("t", "Bash", bad)); got != `{"type":"tool_use","id":"t","name":"Bash","input":{"x":"NaN"}}` {
		t.Error(got)
	}
	if got := string(StreamEnd(End{SessionID: "s", CostUSD: nan(), IsError: true, Errors: []string{"boom"}})); got !=
		`{"type":"stream_end","session_id":"s","num_turns":0,"cost_usd":0,"input_tokens":0,"output_tokens":0,"is_error":true,"errors":["boom"]}` {
		t.Error(got)
	}
	if got := string(TextDelta("<b>&</b>")); got != `{"type":"text_delta","text":"<b>&</b>"}` {
		t.Error(got)
	}
	if got := string(Notification(JobResult{JobName: "j", ResultPreview: strings.Repeat("a", 600)})); !strings.Contains(got, `"result_preview":"`+strings.Repeat("a", 500)+`"`) ||
		!strings.HasSuffix(got, `"success":false}`) || !strings.Contains(got, `"session_id":""`) {
		t.Error(got)
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestPreview(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int // runes
	}{
		{"", 0}, {"short", 5}, {strings.Repeat("a", 500), 500}, {strings.Repeat("a", 501), 500},
		{strings.Repeat("é", 700), 500}, {strings.Repeat("😀", 501), 500}, {strings.Repeat("a", 499) + "日本", 500},
	} {
		got := Preview(c.in)
		if utf8.RuneCountInString(got) != c.want || !utf8.ValidString(got) || !strings.HasPrefix(c.in, got) {
			t.Errorf("%d runes in: %d out", utf8.RuneCountInString(c.in), utf8.RuneCountInString(got))
		}
	}
	if got := Preview("ab\xffc"); got != "ab\uFFFDc" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestValidateAttachments(t *testing.T) {
	png := Attachment{FileName: "photo.png", MimeType: "image/png", Data: make([]byte, 100)}
	pdf := Attachment{FileName: `C:\docs\Report.PDF`, MimeType: "application/pdf", Data: make([]byte, 10)}
	exe := Attachment{FileName: "setup.exe", Data: []byte("MZ")}
	noExt := Attachment{FileName: "Makefile", Data: []byte("all:")}
	on := AttachmentSettings{Enabled: true, AllowedExtensions: []string{"png", ".PDF", " "}, MaxFileBytes: 50, MaxFiles: 2}
	for _, c := range []struct {
		atts    []Attachment
		s       AttachmentSettings
		reason  AttachmentReason
		index   int
		message string
	}{
		{nil, AttachmentSettings{}, "", 0, ""},
		{[]Attachment{png}, AttachmentSettings{}, ReasonDisabled, -1, "attachments are disabled"},
		{[]Attachment{pdf, pdf, pdf}, on, ReasonTooMany, -1, "too many attachments: 3 (at most 2)"},
		{[]Attachment{pdf, exe}, on, ReasonExtension, 1, `attachment "setup.exe" rejected: file extension .exe is not allowed (allowed: .png, .pdf)`},
		{[]Attachment{noExt}, on, ReasonExtension, 0, `attachment "Makefile" rejected: file extension (none) is not allowed (allowed: .png, .pdf)`},
		{[]Attachment{pdf, png}, on, ReasonTooLarge, 1, `attachment "photo.png" rejected: 100 bytes is more than the limit of 50 bytes`},
		{[]Attachment{{FileName: "dir/", Data: nil}}, on, ReasonBadName, 0, `attachment "dir/" rejected: invalid file name`},
		{[]Attachment{{FileName: "..", Data: nil}}, AttachmentSettings{Enabled: true}, ReasonBadName, 0, `attachment ".." rejected: invalid file name`},
		{[]Attachment{{FileName: "a\nb.png"}}, AttachmentSettings{Enabled: true}, ReasonBadName, 0, `attachment "a\nb.png" rejected: invalid file name`},
		{[]Attachment{pdf, exe, noExt, png}, AttachmentSettings{Enabled: true}, "", 0, ""},
		{[]Attachment{pdf}, on, "", 0, ""},
	} {
		err := ValidateAttachments(c.atts, c.s)
		if c.reason == "" {
			if err != nil {
				t.Errorf("refused: %v", err)
			}
			continue
		}
		if err == nil || err.Reason != c.reason || err.Index != c.index || err.Message != c.message {
			t.Errorf("got %+v, want %s %d %q", err, c.reason, c.index, c.message)
			continue
		}
		if string(err.Frame()) != `{"type":"error","message":`+jsonString(c.message)+`}` {
			t.Errorf("frame %s", err.Frame())
		}
	}
}

func TestIsImage(t *testing.T) {
	for m, want := range map[string]bool{"image/png": true, "IMAGE/JPEG": true, "image/gif; x=1": true, "image/webp": true,
		"image/svg+xml": false, "image/p": false, "application/pdf": false, "": false} {
		if IsImage(m) != want {
			t.Errorf("%q", m)
		}
	}
}

func TestRenderSessionEvents(t *testing.T) {
	exit := int64(2)
	input, _ := structpb.NewStruct(map[string]any{"command": "ls -a"})
	for _, c := range []struct {
		env  *syv1.Envelope
		want string
	}{
		{&syv1.Envelope{SessionId: "s1", Body: &syv1.Envelope_TurnStarted{TurnStarted: &syv1.TurnStarted{InResponseTo: "m"}}}, `{"type":"stream_start","session_id":"s1"}`},
		{&syv1.Envelope{Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{Content: "- README.md\n"}}}, `{"type":"text_delta","text":"- README.md\n"}`},
		{&syv1.Envelope{Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{Final: true}}}, ``},
		{&syv1.Envelope{Body: &syv1.Envelope_ToolUse{ToolUse: &syv1.ToolUse{Id: "t1", Name: "Bash", Input: input}}}, `{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls -a"}}`},
		{&syv1.Envelope{Body: &syv1.Envelope_ToolResult{ToolResult: &syv1.ToolResult{ToolUseId: "t1", Content: "x", IsError: true}}}, `{"type":"tool_result","tool_use_id":"t1","content":"x","is_error":true}`},
		{&syv1.Envelope{SessionId: "s1", Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{}}},
			`{"type":"stream_end","session_id":"s1","num_turns":0,"cost_usd":0,"input_tokens":0,"output_tokens":0,"is_error":false,"errors":[]}`},
		{&syv1.Envelope{Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{SessionId: "s2", Outcome: &syv1.TurnOutcome{
			Usage: &syv1.TurnUsage{NumTurns: 2, CostUsd: 0.004, InputTokens: 1200, OutputTokens: 150}, Errors: []string{"tool failed"}}}}},
			`{"type":"stream_end","session_id":"s2","num_turns":2,"cost_usd":0.004,"input_tokens":1200,"output_tokens":150,"is_error":false,"errors":["tool failed"]}`},
		{&syv1.Envelope{SessionId: "s1", Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{ExitCode: &exit}}},
			`{"type":"stream_end","session_id":"s1","num_turns":0,"cost_usd":0,"input_tokens":0,"output_tokens":0,"is_error":true,"errors":["exit code 2"]}`},
		{&syv1.Envelope{Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: "runtime_offline", Message: "No runtime is online for endpoint e"}}}, `{"type":"error","message":"No runtime is online for endpoint e"}`},
		{&syv1.Envelope{Body: &syv1.Envelope_JobNotification{JobNotification: &syv1.JobNotification{JobName: "daily", Success: false, Owner: "u"}}},
			`{"type":"notification","job_name":"daily","session_id":"","result_preview":"","success":false}`},
		{&syv1.Envelope{Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{Content: "echo"}}}, ``},
		{&syv1.Envelope{}, ``},
	} {
		got, ok := Render(c.env)
		if string(got) != c.want || ok != (c.want != "") {
			t.Errorf("%T: got %s %v\nwant %s", c.env.GetBody(), got, ok, c.want)
		}
	}
}
