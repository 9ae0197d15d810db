// Package device is the codec of the device dialect (document 001 in
// shared/seeds): the JSON envelope {id, type, payload, error:{code,
// message}} a controller (the document's "Hub") exchanges with a device's
// agent on ws://host:port/ws, every payload of the document, its numeric
// error codes and timing table, and the binary upload chunk frame
// [4-byte big-endian header length][JSON header][bytes].
//
// It is pure: bytes in, values out, and back. No I/O, no clock, no state.
// Switchyard plays the device's side of the document towards controllers,
// so Decode parses what a controller sends and Encode / Reply / ErrorReply
// render what the hub answers; the payload types serve both directions
// (the example controller and the tests use them the other way round).
package device

import "time"

// Message types of the document, both directions.
const (
	// Connection and authentication.
	TypeHubConnected    = "hub_connected"    // controller → device
	TypeAgentStatus     = "agent_status"     // device → controller
	TypePairingRequired = "pairing_required" // device → controller
	TypePairConfirm     = "pair_confirm"     // controller → device
	TypePairSuccess     = "pair_success"     // device → controller
	TypePairFailed      = "pair_failed"      // device → controller

	// RPC requests (controller → device) and their responses.
	TypePing                = "ping"
	TypePong                = "pong"
	TypeGetInfo             = "get_info"
	TypeInfoResponse        = "info_response"
	TypeGetConfig           = "get_config"
	TypeConfigResponse      = "config_response"
	TypeGetSteamUsers       = "get_steam_users"
	TypeSteamUsersResponse  = "steam_users_response"
	TypeListShortcuts       = "list_shortcuts"
	TypeShortcutsResponse   = "shortcuts_response"
	TypeCreateShortcut      = "create_shortcut"
	TypeDeleteShortcut      = "delete_shortcut"
	TypeOperationResult     = "operation_result"
	TypeApplyArtwork        = "apply_artwork"
	TypeArtworkResponse     = "artwork_response"
	TypeRestartSteam        = "restart_steam"
	TypeSteamResponse       = "steam_response"
	TypeInitUpload          = "init_upload"
	TypeUploadInitResponse  = "upload_init_response"
	TypeUploadChunkResponse = "upload_chunk_response"
	TypeCompleteUpload      = "complete_upload"
	TypeCancelUpload        = "cancel_upload"

	// Push events (device → controller, no request).
	TypeUploadProgress = "upload_progress"
	TypeOperationEvent = "operation_event"

	// TypeError is the type of an error reply: the document defines the
	// envelope's error object but no type for a failed request; Switchyard
	// answers with type "error", the request's id and error{code,message},
	// as the document's reference agent does.
	TypeError = "error"

	// Switchyard extension (docs/protocol-notes.md, "Device dialect"):
	// which byte ranges of an upload are stored, so a controller whose
	// socket dropped resumes on any gateway.
	TypeGetUploadStatus      = "get_upload_status"
	TypeUploadStatusResponse = "upload_status_response"
)

// Error codes of the document's table, sent as error.code.
const (
	CodeBadRequest     = 400 // Bad Request: malformed frame, payload or chunk
	CodeUnauthorized   = 401 // Unauthorized: pairing required
	CodeNotFound       = 404 // Not Found: unknown device, upload or file
	CodeNotAccepted    = 406 // Connections blocked (acceptConnections false)
	CodeConflict       = 409 // Conflict: this hubId is already connected
	CodeInternal       = 500 // Internal Error
	CodeNotImplemented = 501 // Not Implemented: the device lacks the operation
)

// CodeText is the document's meaning of each code, the default message.
var CodeText = map[int]string{
	CodeBadRequest:     "Bad Request",
	CodeUnauthorized:   "Unauthorized (pairing required)",
	CodeNotFound:       "Not Found",
	CodeNotAccepted:    "Connections blocked",
	CodeConflict:       "Conflict (hub already connected)",
	CodeInternal:       "Internal Error",
	CodeNotImplemented: "Not Implemented",
}

// The document's timing table. The gateway uses them as configuration
// defaults.
const (
	PingPeriod      = 5 * time.Second  // a controller pings every 5 s
	PongWait        = 15 * time.Second // and drops the socket after 15 s without a pong
	WriteWait       = 10 * time.Second
	RequestTimeout  = 30 * time.Second
	MaxMessageBytes = 10 << 20 // "10MB": the largest frame, text or binary
	ChunkSize       = 1 << 20  // "1MB": the chunk size offered in upload_init_response
)

// Limits of the binary chunk frame that the document leaves open.
const (
	// ChunkHeaderLenBytes is the size of the big-endian length prefix.
	ChunkHeaderLenBytes = 4
	// MaxChunkHeaderBytes bounds the JSON header of a chunk.
	MaxChunkHeaderBytes = 64 << 10
)

// Operation event statuses (operation_event.status).
const (
	StatusStart    = "start"
	StatusProgress = "progress"
	StatusComplete = "complete"
	StatusError    = "error"
)

// responseTypes maps each request to the type of its successful reply.
var responseTypes = map[string]string{
	TypePing:            TypePong,
	TypeGetInfo:         TypeInfoResponse,
	TypeGetConfig:       TypeConfigResponse,
	TypeGetSteamUsers:   TypeSteamUsersResponse,
	TypeListShortcuts:   TypeShortcutsResponse,
	TypeCreateShortcut:  TypeOperationResult,
	TypeDeleteShortcut:  TypeOperationResult,
	TypeApplyArtwork:    TypeArtworkResponse,
	TypeRestartSteam:    TypeSteamResponse,
	TypeInitUpload:      TypeUploadInitResponse,
	TypeCompleteUpload:  TypeOperationResult,
	TypeCancelUpload:    TypeOperationResult,
	TypeGetUploadStatus: TypeUploadStatusResponse,
}

// ResponseType is the type of the successful reply to a request of type
// req: info_response for get_info, operation_result for create_shortcut,
// and so on. Requests the document does not list (relayed to the device
// as they are) return "", and the device names the type of its answer.
func ResponseType(req string) string { return responseTypes[req] }

// RelayedTypes are the document's requests the hub relays to the device
// (every other unknown type is relayed too; see Frame.Known).
var RelayedTypes = []string{
	TypeGetInfo, TypeGetConfig, TypeGetSteamUsers, TypeListShortcuts,
	TypeCreateShortcut, TypeDeleteShortcut, TypeApplyArtwork, TypeRestartSteam,
}

// deviceSide are the known types only a device sends.
var deviceSide = map[string]bool{
	TypeAgentStatus: true, TypePairingRequired: true, TypePairSuccess: true, TypePairFailed: true,
	TypeInfoResponse: true, TypeConfigResponse: true, TypeSteamUsersResponse: true,
	TypeShortcutsResponse: true, TypeOperationResult: true, TypeArtworkResponse: true,
	TypeSteamResponse: true, TypeUploadInitResponse: true, TypeUploadChunkResponse: true,
	TypeUploadProgress: true, TypeOperationEvent: true, TypeUploadStatusResponse: true, TypeError: true,
}

// FromController reports whether a controller may send typ: the
// document's controller → device types, ping/pong, the extension, and
// any type the document does not define (relayed to the device). The
// device's own types (agent_status, info_response, upload_progress, …)
// are not: the hub answers them with 400.
func FromController(typ string) bool { return typ != "" && !deviceSide[typ] }
