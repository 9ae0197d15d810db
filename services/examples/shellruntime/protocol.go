package main

// Payloads of the runtime side of the dialect (protocol document 003).

type helloPayload struct {
	RuntimeID string     `json:"runtime_id"`
	Token     string     `json:"token"`
	OrgID     string     `json:"org_id"`
	Endpoints []endpoint `json:"endpoints"`
}

type endpoint struct {
	ID       string            `json:"id"`
	Profile  string            `json:"profile"`
	Name     string            `json:"name"`
	Tags     map[string]string `json:"tags"`
	Caps     caps              `json:"caps"`
	Security security          `json:"security"`
}

type caps struct {
	NativeSessionIDs bool   `json:"native_session_ids"`
	TurnCompletion   bool   `json:"turn_completion"`
	ResumeAttach     bool   `json:"resume_attach"`
	ExecModel        string `json:"exec_model"`
}

type security struct {
	PermissionMode string   `json:"permission_mode"`
	AllowedTools   []string `json:"allowed_tools"`
}

type sessionCreate struct {
	SessionID  string `json:"session_id"`
	EndpointID string `json:"endpoint_id"`
	UserID     string `json:"user_id"`
}

type sessionCreated struct {
	SessionID    string `json:"session_id"`
	OK           bool   `json:"ok"`
	NativeHandle string `json:"native_handle"`
	Error        string `json:"error,omitempty"`
}

type userMessage struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
	// Followup (chat extension): a message for the running turn.
	Followup bool `json:"followup,omitempty"`
}

type agentOutput struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Seq       int64  `json:"seq"`
	Channel   string `json:"channel"`
	Content   string `json:"content"`
	Final     bool   `json:"final"`
}

type turnStarted struct {
	SessionID    string `json:"session_id"`
	InResponseTo string `json:"in_response_to"`
}

type turnCompleted struct {
	SessionID    string `json:"session_id"`
	InResponseTo string `json:"in_response_to"`
	ExitCode     int    `json:"exit_code"`
	Usage        *usage `json:"usage,omitempty"`
}

// Chat extensions (docs/protocol-notes.md): each command is a Bash tool
// call, and turn.completed reports usage.
type toolUse struct {
	SessionID string         `json:"session_id"`
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Input     map[string]any `json:"input"`
}

type toolResult struct {
	SessionID string `json:"session_id"`
	ToolUseID string `json:"tool_use_id"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
}

// usage of a shell turn: commands run, bytes of the commands (input) and of
// their output (output); a shell costs nothing.
type usage struct {
	NumTurns     int64   `json:"num_turns"`
	CostUSD      float64 `json:"cost_usd"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
}

// sessionRef is the payload of stop.request and session.close.
type sessionRef struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}

type stopAck struct {
	SessionID string `json:"session_id"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

type permissionResponse struct {
	SessionID   string `json:"session_id"`
	RequestID   string `json:"request_id"`
	Approved    bool   `json:"approved"`
	AlwaysAllow bool   `json:"always_allow"`
}

type fileUpload struct {
	SessionID string `json:"session_id"`
	Metadata  struct {
		FileID   string `json:"file_id"`
		Name     string `json:"name"`
		MimeType string `json:"mime_type"`
		Size     int64  `json:"size"`
	} `json:"metadata"`
}

type configUpdate struct {
	EndpointID string         `json:"endpoint_id"`
	Security   map[string]any `json:"security,omitempty"`
	Limits     map[string]any `json:"limits,omitempty"`
}

type configAck struct {
	EndpointID string `json:"endpoint_id"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

type tokenRefresh struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at,omitempty"`
}
