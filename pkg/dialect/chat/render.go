package chat

import (
	"fmt"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Render turns a session event into the chat frame a chat client of the
// session receives, once per gateway pod. ok is false for events with no
// chat frame (the user.message echo, permission requests, …).
//
//	turn.started          → stream_start {session_id}
//	agent.output          → text_delta {text}   (empty chunks: none)
//	agent.tool_use        → tool_use {id, name, input}
//	agent.tool_result     → tool_result {tool_use_id, content, is_error}
//	turn.completed        → stream_end (EndOf)
//	error                 → error {message}
//	job notification      → notification
//
// A turn that ends otherwise (stop.ack, session.closed, runtime_offline)
// has no turn.completed: the chat room that sent stream_start closes the
// stream with StreamEnd(End{SessionID, IsError: true, Errors: [reason]}).
func Render(env *syv1.Envelope) (frame []byte, ok bool) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_TurnStarted:
		return StreamStart(sessionOf(env, b.TurnStarted.GetSessionId())), true
	case *syv1.Envelope_AgentOutput:
		if b.AgentOutput.GetContent() == "" {
			return nil, false
		}
		return TextDelta(b.AgentOutput.GetContent()), true
	case *syv1.Envelope_ToolUse:
		return ToolUse(b.ToolUse.GetId(), b.ToolUse.GetName(), b.ToolUse.GetInput()), true
	case *syv1.Envelope_ToolResult:
		m := b.ToolResult
		return ToolResult(m.GetToolUseId(), m.GetContent(), m.GetIsError()), true
	case *syv1.Envelope_TurnCompleted:
		return StreamEnd(EndOf(sessionOf(env, b.TurnCompleted.GetSessionId()), b.TurnCompleted)), true
	case *syv1.Envelope_Error:
		return ErrorFrame(b.Error.GetMessage()), true
	case *syv1.Envelope_JobNotification:
		m := b.JobNotification
		return Notification(JobResult{JobName: m.GetJobName(), SessionID: m.GetSessionId(), ResultPreview: m.GetResultPreview(), Success: m.GetSuccess()}), true
	}
	return nil, false
}

// EndOf is the stream_end of a turn.completed: the runtime's usage (zeros
// when it reported none), is_error when the runtime said so or the turn
// exited with a non-zero exit_code (errors then says "exit code N" unless
// the runtime gave errors).
func EndOf(sessionID string, tc *syv1.TurnCompleted) End {
	o := tc.GetOutcome()
	u := o.GetUsage()
	e := End{
		SessionID: sessionID, NumTurns: u.GetNumTurns(), CostUSD: u.GetCostUsd(),
		InputTokens: u.GetInputTokens(), OutputTokens: u.GetOutputTokens(),
		IsError: o.GetIsError(), Errors: append([]string(nil), o.GetErrors()...),
	}
	if tc.ExitCode != nil && *tc.ExitCode != 0 {
		e.IsError = true
		if len(e.Errors) == 0 {
			e.Errors = []string{fmt.Sprintf("exit code %d", *tc.ExitCode)}
		}
	}
	return e
}

func sessionOf(env *syv1.Envelope, body string) string {
	if body != "" {
		return body
	}
	return env.GetSessionId()
}
