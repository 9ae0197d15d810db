// Package kind is the hub's own vocabulary: the kinds of envelope that
// travel on the bus and the roles a socket can play. No dialect owns it.
// Dialect codecs (pkg/dialect/<name>) translate their wire types to and
// from these kinds; the session, relay and upload services speak only these.
//
// Kind strings are stored in transcripts (SY_EVT) and must never change
// once released. The runtime/client dialect's wire types happen to equal
// the kinds of the same name, because that dialect came first.
package kind

// Session, turn and message kinds (transcript entries and commands).
const (
	RuntimeHello         = "runtime.hello"
	HelloAck             = "hello.ack"
	SessionCreate        = "session.create"
	SessionCreated       = "session.created"
	SessionClose         = "session.close"
	SessionClosed        = "session.closed"
	UserMessage          = "user.message"
	AgentOutput          = "agent.output"
	TurnStarted          = "turn.started"
	TurnCompleted        = "turn.completed"
	StopRequest          = "stop.request"
	StopAck              = "stop.ack"
	PermissionRequest    = "permission.request"
	PermissionResponse   = "permission.response"
	FileUpload           = "file.upload"
	FileAvailable        = "file.available"
	EndpointConfigUpdate = "endpoint.config_update"
	EndpointConfigAck    = "endpoint.config_ack"
	TokenRefresh         = "runtime.token_refresh"
	Ping                 = "ping"
	Pong                 = "pong"
	Subscribe            = "client.subscribe"
	Unsubscribe          = "client.unsubscribe"
	HistoryResponse      = "history.response"
	Error                = "error"
	// RuntimeStatus: gateway → session service when a runtime socket comes
	// or goes (body RuntimeStatus); also a transcript entry.
	RuntimeStatus = "runtime.status"
	// ToolUse and ToolResult: runtime → hub chat extensions, transcript
	// entries (bodies ToolUse, ToolResult).
	ToolUse    = "agent.tool_use"
	ToolResult = "agent.tool_result"
)

// Internal kinds: they travel between services and never reach a socket.
const (
	// RouteFailed: relay → session, a hub-to-runtime command could not be
	// delivered (body RouteFailed).
	RouteFailed = "route.failed"
	// DeliveryAck: gateway → relay, reply to a directed delivery.
	DeliveryAck = "delivery.ack"
	// CreateSession: gateway → session service, REST session creation.
	CreateSession = "session.create_request"
	// PermissionTimeout: session sweeper → session partition, deny a
	// permission request whose deadline passed (body PermissionRequest).
	PermissionTimeout = "permission.timeout"
	// SessionIdle: session sweeper → session partition, close an idle
	// session (body SessionClose).
	SessionIdle = "session.idle"
	// ConnClose: → gateway, close the target socket (body Error: code and
	// reason), e.g. a revoked runtime token.
	ConnClose = "conn.close"
	// TokensRevoke and TokensIssue: gateway → relay (admin REST), revoke
	// every token of a runtime id, or issue a new one.
	TokensRevoke = "runtime.tokens_revoke"
	TokensIssue  = "runtime.tokens_issue"
	// ChatDequeue: session service → its own partition, start the next
	// queued chat follow-up of a session whose turn ended (no body).
	ChatDequeue = "chat.dequeue"
	// InBatch: gateway → session (SY_IN), several frames of one runtime
	// socket for one partition in one message (body InboundBatch); the
	// session service handles each as if it had come alone.
	InBatch = "in.batch"
	// InReceipt: session service → the gateway of a runtime socket (pod
	// subject, target route), the frame named by its id (a frame with
	// Envelope.want_receipt) was handled: everything the socket sent for
	// the session before it is in the transcript, and the socket is the
	// session's runtime (no body).
	InReceipt = "in.receipt"
	// EndpointRelease: gateway (admin REST DELETE /v1/endpoints/{id}/owner) →
	// relay, forget which runtime owns an endpoint so that the next runtime
	// to register it takes it over. The relay's answer has the same kind
	// (endpoint_id set, runtime_id the former owner) or is an Error.
	EndpointRelease = "endpoint.release"
)

// Chat follow-up modes (UserMessage.followup_mode): what the session
// service does with a chat message sent while a turn runs.
const (
	FollowupInject = "inject" // into the running turn (user.message followup:true)
	FollowupQueue  = "queue"  // held, and run as a new turn after it
)

// Role is the part a socket plays, whatever dialect it speaks. It is the
// `dialect` label's companion in metrics and the Route.role on the bus.
type Role string

const (
	// RoleRuntime is an agent runtime or a device agent (/ws/runtime).
	RoleRuntime Role = "runtime"
	// RoleClient is a user-facing client: a runtime/client UI, a chat UI or
	// a device controller.
	RoleClient Role = "client"
	// RoleReader is a read-only push-channel reader (/notification, /statechange).
	RoleReader Role = "reader"
)

// String returns the role's name.
func (r Role) String() string { return string(r) }
