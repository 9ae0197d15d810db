// Package amurg is the codec of the runtime/client dialect (document
// 003 in shared/seeds): JSON frames on /ws/runtime and /ws/client, decoded
// into protobuf Envelopes at the edge and rendered back from them.
package amurg

import "encoding/json"

// Frame is the common envelope of every message of the dialect.
//
// Seq is Switchyard's one addition: frames that belong to a session
// transcript carry their per-session seq at the top level, so a client can
// resume with client.subscribe{after_seq} whatever the frame type.
type Frame struct {
	Type      string          `json:"type"`
	ID        string          `json:"id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Seq       int64           `json:"seq,omitempty"`
	Ts        string          `json:"ts,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// outFrame is Frame with a payload that is still a Go value, so rendering
// encodes the frame in one pass.
type outFrame struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	Ts        string `json:"ts,omitempty"`
	Payload   any    `json:"payload,omitempty"`
}

type endpointJSON struct {
	ID       string            `json:"id"`
	Profile  string            `json:"profile,omitempty"`
	Name     string            `json:"name,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	Caps     json.RawMessage   `json:"caps,omitempty"`
	Security json.RawMessage   `json:"security,omitempty"`
}

type runtimeHelloJSON struct {
	RuntimeID string         `json:"runtime_id"`
	Token     string         `json:"token"`
	OrgID     string         `json:"org_id,omitempty"`
	Endpoints []endpointJSON `json:"endpoints"`
	// Agents is the later revision's name of the list (revision.go).
	Agents []endpointJSON `json:"agents"`
}

type helloAckJSON struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Warnings is Switchyard's: what the hub accepted but doubts.
	Warnings []string `json:"warnings,omitempty"`
}

type sessionCreateJSON struct {
	SessionID  string `json:"session_id"`
	EndpointID string `json:"endpoint_id"`
	UserID     string `json:"user_id"`
}

type sessionCreatedJSON struct {
	SessionID    string `json:"session_id"`
	OK           bool   `json:"ok"`
	NativeHandle string `json:"native_handle"`
	Error        string `json:"error,omitempty"`
}

type sessionCloseJSON struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}

type userMessageJSON struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
	// Followup is a chat extension (inject mode); see chat.go.
	Followup bool `json:"followup,omitempty"`
}

type agentOutputJSON struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Seq       int64  `json:"seq"`
	Channel   string `json:"channel"`
	Content   string `json:"content"`
	Final     bool   `json:"final"`
}

type turnStartedJSON struct {
	SessionID    string `json:"session_id"`
	InResponseTo string `json:"in_response_to"`
}

type turnCompletedJSON struct {
	SessionID    string `json:"session_id"`
	InResponseTo string `json:"in_response_to"`
	ExitCode     *int64 `json:"exit_code,omitempty"`
	// Chat extension (usage, is_error, errors); see chat.go.
	*TurnOutcomeFields
}

type sessionOnlyJSON struct {
	SessionID string `json:"session_id"`
}

type stopAckJSON struct {
	SessionID string `json:"session_id"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

type permissionRequestJSON struct {
	SessionID   string `json:"session_id"`
	RequestID   string `json:"request_id"`
	Tool        string `json:"tool"`
	Description string `json:"description"`
	Resource    string `json:"resource,omitempty"`
}

type permissionResponseJSON struct {
	SessionID   string `json:"session_id"`
	RequestID   string `json:"request_id"`
	Approved    bool   `json:"approved"`
	AlwaysAllow bool   `json:"always_allow"`
	// Reason is set on the hub's transcript copies only: "timeout" or
	// "always_allow" when the hub answered by itself.
	Reason string `json:"reason,omitempty"`
}

type runtimeStatusJSON struct {
	SessionID string `json:"session_id"`
	RuntimeID string `json:"runtime_id"`
	Online    bool   `json:"online"`
}

type fileMetadataJSON struct {
	FileID   string `json:"file_id"`
	Name     string `json:"name"`
	MimeType string `json:"mime_type"`
	Size     int64  `json:"size"`
}

type fileJSON struct {
	SessionID string           `json:"session_id"`
	Metadata  fileMetadataJSON `json:"metadata"`
	// Data is base64 (standard alphabet, padded) on the wire; encoding/json
	// does the conversion for []byte. Clients get metadata only.
	Data []byte `json:"data,omitempty"`
}

type endpointConfigUpdateJSON struct {
	EndpointID string          `json:"endpoint_id"`
	Security   json.RawMessage `json:"security,omitempty"`
	Limits     json.RawMessage `json:"limits,omitempty"`
}

type endpointConfigAckJSON struct {
	EndpointID string `json:"endpoint_id"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

type tokenRefreshJSON struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

type subscribeJSON struct {
	SessionID string `json:"session_id"`
	AfterSeq  int64  `json:"after_seq"`
}

type historyResponseJSON struct {
	SessionID          string            `json:"session_id"`
	AfterSeq           int64             `json:"after_seq"`
	LastSeq            int64             `json:"last_seq"`
	HasMore            bool              `json:"has_more"`
	FirstSeq           int64             `json:"first_seq,omitempty"` // lowest stored seq (issue 9)
	Trimmed            bool              `json:"trimmed,omitempty"`   // part of the range was removed by retention
	Messages           []json.RawMessage `json:"messages"`
	PendingPermissions []json.RawMessage `json:"pending_permissions,omitempty"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
