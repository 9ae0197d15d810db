package main

import "encoding/json"

// Payloads of the client side of the dialect (protocol document 003).

type subscribe struct {
	SessionID string `json:"session_id"`
	AfterSeq  int64  `json:"after_seq"`
}

type historyResponse struct {
	SessionID string            `json:"session_id"`
	AfterSeq  int64             `json:"after_seq"`
	LastSeq   int64             `json:"last_seq"`
	HasMore   bool              `json:"has_more"`
	Messages  []json.RawMessage `json:"messages"`
}

type userMessage struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
}

type agentOutput struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Seq       int64  `json:"seq"`
	Channel   string `json:"channel"`
	Content   string `json:"content"`
	Final     bool   `json:"final"`
}

type turnEvent struct {
	SessionID    string `json:"session_id"`
	InResponseTo string `json:"in_response_to"`
	ExitCode     *int64 `json:"exit_code,omitempty"`
}

type permissionRequest struct {
	SessionID   string `json:"session_id"`
	RequestID   string `json:"request_id"`
	Tool        string `json:"tool"`
	Description string `json:"description"`
	Resource    string `json:"resource,omitempty"`
}

type permissionResponse struct {
	SessionID   string `json:"session_id"`
	RequestID   string `json:"request_id"`
	Approved    bool   `json:"approved"`
	AlwaysAllow bool   `json:"always_allow"`
}

// sessionRef is the payload of stop.request, session.close and
// session.closed.
type sessionRef struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}

type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
