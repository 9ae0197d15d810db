package amurg

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Chat extensions of the dialect (docs/protocol-notes.md, "Chat
// extensions"): a runtime reports tool calls, tool results and usage, and
// update progress; the hub sends follow-ups as user.message with
// payload.followup. Runtimes that do not know them never receive them
// unasked, and clients ignore what they do not know.
const (
	// TypeToolUse: runtime → hub, a transcript entry delivered to clients.
	// Payload {session_id, id, name, input}.
	TypeToolUse = "agent.tool_use"
	// TypeToolResult: runtime → hub, a transcript entry delivered to
	// clients. Payload {session_id, tool_use_id, content, is_error}.
	TypeToolResult = "agent.tool_result"
	// TypeUpdateProgress: runtime → hub, update progress passed on to the
	// push channel /notification as Type 8 (AppUpdateProgress). The
	// payload is any JSON object.
	TypeUpdateProgress = "agent.update_progress"
)

func init() {
	for _, t := range []string{TypeToolUse, TypeToolResult, TypeUpdateProgress} {
		inbound[RoleRuntime][t] = true
		known[t] = true
	}
}

type toolUseJSON struct {
	SessionID string          `json:"session_id"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type toolResultJSON struct {
	SessionID string `json:"session_id"`
	ToolUseID string `json:"tool_use_id"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
}

type usageJSON struct {
	NumTurns     int64   `json:"num_turns"`
	CostUSD      float64 `json:"cost_usd"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
}

// TurnOutcomeFields is the chat extension of the turn.completed payload:
// {"usage":{num_turns, cost_usd, input_tokens, output_tokens}, "is_error",
// "errors"}. It is present on the wire when the runtime sent any of the
// three fields; a turn.completed without them is the document's frame.
type TurnOutcomeFields struct {
	Usage   *usageJSON `json:"usage,omitempty"`
	IsError bool       `json:"is_error"`
	Errors  []string   `json:"errors"`
}

// maxToolIDBytes bounds tool-call ids and names.
const maxToolIDBytes = 256

func decodeChat(f *Frame, env *syv1.Envelope) *Error {
	switch f.Type {
	case TypeToolUse:
		var p toolUseJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if err := checkToolID("id", p.ID); err != nil {
			return err
		}
		if err := checkToolID("name", p.Name); err != nil {
			return err
		}
		input, err := toStruct(p.Input, "input")
		if err != nil {
			return err
		}
		if input == nil {
			input = &structpb.Struct{}
		}
		env.Body = &syv1.Envelope_ToolUse{ToolUse: &syv1.ToolUse{SessionId: p.SessionID, Id: p.ID, Name: p.Name, Input: input}}
		return sessionOf(env, p.SessionID, true)
	case TypeToolResult:
		var p toolResultJSON
		if err := unmarshalPayload(f, &p); err != nil {
			return err
		}
		if err := checkToolID("tool_use_id", p.ToolUseID); err != nil {
			return err
		}
		env.Body = &syv1.Envelope_ToolResult{ToolResult: &syv1.ToolResult{SessionId: p.SessionID, ToolUseId: p.ToolUseID, Content: p.Content, IsError: p.IsError}}
		return sessionOf(env, p.SessionID, true)
	case TypeUpdateProgress:
		if !isObject(f.Payload) {
			return errorf(errcode.InvalidMessage, "%s needs a payload object", f.Type)
		}
		data, err := toStruct(f.Payload, "payload")
		if err != nil {
			return err
		}
		env.Body = &syv1.Envelope_AppUpdateProgress{AppUpdateProgress: &syv1.AppUpdateProgress{Data: data}}
		return nil
	}
	return errorf(errcode.UnknownType, "type %q has no decoder", f.Type)
}

func checkToolID(field, v string) *Error {
	if v == "" || len(v) > maxToolIDBytes {
		return errorf(errcode.InvalidMessage, "%s must be 1-%d bytes", field, maxToolIDBytes)
	}
	return nil
}

// outcomeOf reads the turn.completed extension into tc.Outcome.
func outcomeOf(p *TurnOutcomeFields, tc *syv1.TurnCompleted) *Error {
	if p == nil {
		return nil
	}
	o := &syv1.TurnOutcome{IsError: p.IsError, Errors: p.Errors}
	if u := p.Usage; u != nil {
		if u.NumTurns < 0 || u.CostUSD < 0 || u.InputTokens < 0 || u.OutputTokens < 0 {
			return errorf(errcode.InvalidMessage, "usage fields must not be negative")
		}
		o.Usage = &syv1.TurnUsage{NumTurns: u.NumTurns, CostUsd: u.CostUSD, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}
	}
	tc.Outcome = o
	return nil
}

// outcomeJSON renders tc.Outcome; nil when the runtime reported none.
func outcomeJSON(o *syv1.TurnOutcome) *TurnOutcomeFields {
	if o == nil {
		return nil
	}
	out := &TurnOutcomeFields{IsError: o.GetIsError(), Errors: append([]string{}, o.GetErrors()...)}
	if u := o.GetUsage(); u != nil {
		out.Usage = &usageJSON{NumTurns: u.GetNumTurns(), CostUSD: u.GetCostUsd(), InputTokens: u.GetInputTokens(), OutputTokens: u.GetOutputTokens()}
	}
	return out
}

func payloadOfChat(env *syv1.Envelope, _ Role) (any, error) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_ToolUse:
		m := b.ToolUse
		input := structJSON(m.GetInput())
		if input == nil {
			input = json.RawMessage("{}")
		}
		return toolUseJSON{SessionID: m.GetSessionId(), ID: m.GetId(), Name: m.GetName(), Input: input}, nil
	case *syv1.Envelope_ToolResult:
		m := b.ToolResult
		return toolResultJSON{SessionID: m.GetSessionId(), ToolUseID: m.GetToolUseId(), Content: m.GetContent(), IsError: m.GetIsError()}, nil
	case *syv1.Envelope_AppUpdateProgress:
		data := structJSON(b.AppUpdateProgress.GetData())
		if data == nil {
			data = json.RawMessage("{}")
		}
		return data, nil
	}
	return nil, fmt.Errorf("amurg: no encoder for %s body %T", env.GetType(), env.GetBody())
}
