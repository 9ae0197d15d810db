package main

import "encoding/json"

// Payloads of the runtime dialect (document 003) and of its device
// extension (docs/protocol-notes.md, "Device extensions"). The document
// 001 payloads inside them are pkg/dialect/device's types.

type helloPayload struct {
	RuntimeID string     `json:"runtime_id"`
	Token     string     `json:"token"`
	OrgID     string     `json:"org_id"`
	Endpoints []endpoint `json:"endpoints"`
}

type endpoint struct {
	ID      string            `json:"id"`
	Profile string            `json:"profile"`
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Caps    endpointCaps      `json:"caps"`
}

type endpointCaps struct {
	Device deviceCaps `json:"device"`
}

type deviceCaps struct {
	Name              string   `json:"name"`
	Platform          string   `json:"platform"`
	Version           string   `json:"version"`
	Capabilities      []string `json:"capabilities"`
	AcceptConnections bool     `json:"acceptConnections"`
}

type deviceRequest struct {
	RequestID string          `json:"request_id"`
	Op        string          `json:"op"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	HubID     string          `json:"hub_id,omitempty"`
	HubName   string          `json:"hub_name,omitempty"`
}

type deviceError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type deviceResponse struct {
	RequestID string       `json:"request_id"`
	Op        string       `json:"op"`
	Type      string       `json:"type,omitempty"`
	Payload   any          `json:"payload,omitempty"`
	Error     *deviceError `json:"error,omitempty"`
}

type pairingCode struct {
	Code      string `json:"code"`
	ExpiresIn int    `json:"expires_in"`
	HubID     string `json:"hub_id"`
	HubName   string `json:"hub_name,omitempty"`
}

type uploadFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

type uploadReady struct {
	RequestID  string       `json:"request_id"`
	UploadID   string       `json:"upload_id"`
	GameName   string       `json:"game_name"`
	Files      []uploadFile `json:"files"`
	Token      string       `json:"token"`
	TotalSize  int64        `json:"total_size"`
	Executable string       `json:"executable,omitempty"`
}

type deviceEvent struct {
	RequestID string `json:"request_id,omitempty"`
	UploadID  string `json:"upload_id,omitempty"`
	Type      string `json:"type"`
	Payload   any    `json:"payload"`
}

type deviceCancel struct {
	RequestID string `json:"request_id,omitempty"`
	UploadID  string `json:"upload_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type configUpdate struct {
	EndpointID string `json:"endpoint_id"`
}

type configAck struct {
	EndpointID string `json:"endpoint_id"`
	OK         bool   `json:"ok"`
}

type tokenRefresh struct {
	Token string `json:"token"`
}
