package chat

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// Server→client type strings.
const (
	TypeStreamStart  = "stream_start"
	TypeTextDelta    = "text_delta"
	TypeToolUse      = "tool_use"
	TypeToolResult   = "tool_result"
	TypeStreamEnd    = "stream_end"
	TypeError        = "error"
	TypeNotification = "notification"
)

// Frame structs keep the document's field order.
type streamStartJSON struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id"`
}

type textDeltaJSON struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type toolUseJSON struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type toolResultJSON struct {
	Type      string `json:"type"`
	ToolUseID string `json:"tool_use_id"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
}

type streamEndJSON struct {
	Type         string   `json:"type"`
	SessionID    string   `json:"session_id"`
	NumTurns     int64    `json:"num_turns"`
	CostUSD      float64  `json:"cost_usd"`
	InputTokens  int64    `json:"input_tokens"`
	OutputTokens int64    `json:"output_tokens"`
	IsError      bool     `json:"is_error"`
	Errors       []string `json:"errors"`
}

type errorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type notificationJSON struct {
	Type          string `json:"type"`
	JobName       string `json:"job_name"`
	SessionID     string `json:"session_id"`
	ResultPreview string `json:"result_preview"`
	Success       bool   `json:"success"`
}

// StreamStart renders {"type":"stream_start","session_id"}.
func StreamStart(sessionID string) []byte {
	return marshal(streamStartJSON{TypeStreamStart, sessionID})
}

// TextDelta renders {"type":"text_delta","text"}.
func TextDelta(text string) []byte { return marshal(textDeltaJSON{TypeTextDelta, text}) }

// ToolUse renders {"type":"tool_use","id","name","input"}; a nil input
// renders as {}.
func ToolUse(id, name string, input *structpb.Struct) []byte {
	in := json.RawMessage("{}")
	if input != nil {
		// AsMap turns NaN and ±Inf into strings, so this does not fail;
		// if it ever did, the frame would carry {} rather than break.
		if b, err := marshalJSON(input.AsMap()); err == nil {
			in = b
		}
	}
	return marshal(toolUseJSON{TypeToolUse, id, name, in})
}

// ToolResult renders {"type":"tool_result","tool_use_id","content","is_error"}.
func ToolResult(toolUseID, content string, isError bool) []byte {
	return marshal(toolResultJSON{TypeToolResult, toolUseID, content, isError})
}

// End is the content of a stream_end frame. The zero value (with a
// session id) is the frame of a turn whose runtime reported no usage.
type End struct {
	SessionID    string
	NumTurns     int64
	CostUSD      float64
	InputTokens  int64
	OutputTokens int64
	IsError      bool
	Errors       []string
}

// StreamEnd renders {"type":"stream_end","session_id","num_turns",
// "cost_usd","input_tokens","output_tokens","is_error","errors"}; errors
// is [] when there are none, a cost that is not a finite number is 0.
func StreamEnd(e End) []byte {
	errs := e.Errors
	if errs == nil {
		errs = []string{}
	}
	cost := e.CostUSD
	if math.IsNaN(cost) || math.IsInf(cost, 0) {
		cost = 0
	}
	return marshal(streamEndJSON{TypeStreamEnd, e.SessionID, e.NumTurns, cost, e.InputTokens, e.OutputTokens, e.IsError, errs})
}

// ErrorFrame renders {"type":"error","message"}.
func ErrorFrame(message string) []byte { return marshal(errorJSON{TypeError, message}) }

// JobResult is the content of a notification frame.
type JobResult struct {
	JobName       string
	SessionID     string
	ResultPreview string
	Success       bool
}

// Notification renders {"type":"notification","job_name","session_id",
// "result_preview","success"}; result_preview is cut to PreviewLimit
// characters (Preview).
func Notification(n JobResult) []byte {
	return marshal(notificationJSON{TypeNotification, n.JobName, n.SessionID, Preview(n.ResultPreview), n.Success})
}

// PreviewLimit is the document's bound on result_preview, in characters.
const PreviewLimit = 500

// Preview cuts s to at most PreviewLimit characters (Unicode code points),
// never inside a UTF-8 sequence; invalid UTF-8 becomes U+FFFD first.
func Preview(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	n := 0
	for i := range s {
		if n == PreviewLimit {
			return s[:i]
		}
		n++
	}
	return s
}

// marshal renders a frame struct. Frame structs hold only strings, bools,
// integers, finite floats and valid raw JSON, so encoding cannot fail.
func marshal(v any) []byte {
	b, _ := marshalJSON(v)
	return b
}

// marshalJSON is json.Marshal without HTML escaping and without the newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
