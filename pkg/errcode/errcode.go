// Package errcode lists the machine-readable error codes the hub sends in
// `error` frames. docs/errors.md documents each; dialects render them
// (the runtime/client dialect verbatim, the device dialect as numbers).
package errcode

// Codes. Keep docs/errors.md in step with this list (a test checks it).
const (
	// Frame-level problems; the socket stays open.
	InvalidJSON     = "invalid_json"     // the frame is not a JSON object
	InvalidMessage  = "invalid_message"  // a required field is missing or has the wrong type
	UnknownType     = "unknown_type"     // the type string is not part of the dialect
	UnsupportedType = "unsupported_type" // the type exists but may not be sent on this socket
	RateLimited     = "rate_limited"     // too many frames per second from this socket

	// Authentication and authorization.
	AuthFailed = "auth_failed" // missing, unknown or revoked token
	Forbidden  = "forbidden"   // authenticated, but not allowed to touch this session

	// Sessions and turns.
	SessionNotFound = "session_not_found" // no such session
	SessionClosed   = "session_closed"    // the session is closed; create a new one
	NotSubscribed   = "not_subscribed"    // unsubscribe from a session this socket does not follow
	TurnInProgress  = "turn_in_progress"  // a user.message arrived while a turn runs
	EndpointUnknown = "endpoint_not_found"

	// Permissions.
	PermissionNotFound = "permission_not_found" // permission.response for an unknown request_id
	PermissionResolved = "permission_resolved"  // the request was already answered (by a user, the timeout or always_allow)

	// Files.
	FileTooLarge = "file_too_large" // over SY_MAX_FILE_BYTES
	FileNotFound = "file_not_found" // no such file id

	// Runtimes.
	RuntimeOffline = "runtime_offline" // the session's runtime has no live socket
	RuntimeTimeout = "runtime_timeout" // the runtime did not answer within the request timeout
	RuntimeError   = "runtime_error"   // the runtime answered ok:false

	// Hub side.
	Unavailable = "unavailable" // the hub could not accept the frame (bus down); retry
	Internal    = "internal"    // a bug; logged with the trace id

	// Integrity and quotas (issue 9).
	EndpointOwned = "endpoint_owned" // runtime.hello names an endpoint another runtime (or org) owns
	QuotaExceeded = "quota_exceeded" // the user's message or transcript-byte quota is used up; retry later
	// Chat stream (document 002).
	QueueFull = "queue_full" // queue mode: too many follow-ups queued on the session

	// Device pairing (admin REST, dialect/device).
	PairingNotFound = "pairing_not_found" // DELETE /v1/devices/{id}/pairings/{hub_id}: nothing was paired

	// Edge limits (issue 9).
	TooManySockets  = "too_many_sockets"  // the source address or principal holds the most sockets allowed
	MessageTooLarge = "message_too_large" // the frame is larger than the bus (NATS max_payload) carries
)

// All is every code, for documentation checks.
var All = []string{
	InvalidJSON, InvalidMessage, UnknownType, UnsupportedType, RateLimited,
	AuthFailed, Forbidden,
	SessionNotFound, SessionClosed, NotSubscribed, TurnInProgress, EndpointUnknown,
	PermissionNotFound, PermissionResolved, FileTooLarge, FileNotFound,
	RuntimeOffline, RuntimeTimeout, RuntimeError,
	Unavailable, Internal,
	EndpointOwned, QuotaExceeded,
	QueueFull,
	PairingNotFound,
	TooManySockets, MessageTooLarge,
}
