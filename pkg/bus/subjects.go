package bus

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/kind"
)

// Streams, buckets and subjects. docs/architecture.md has the full map.
const (
	// StreamInbound holds everything a gateway hands to the session service:
	// runtime events and client commands, subject sy.in.<partition>.<session>.
	StreamInbound = "SY_IN"
	// StreamRuntime holds hub→runtime commands for the relay service,
	// subject sy.rt.<partition>.<session>.
	StreamRuntime = "SY_RT"
	// StreamTranscript is the durable per-session transcript,
	// subject sy.evt.<session>. Gateways also hold core interest on these
	// subjects for live fan-out.
	StreamTranscript = "SY_EVT"

	// BucketSessions maps session id → SessionInfo.
	BucketSessions = "sy_sessions"
	// BucketEndpoints maps endpoint id → EndpointRecord.
	BucketEndpoints = "sy_endpoints"
	// BucketPermissions maps <session>.<request_id> → PermissionRecord.
	BucketPermissions = "sy_permissions"
	// BucketTokens maps t.<sha256 hex> → TokenRecord and r.<runtime> →
	// RuntimeTokenState.
	BucketTokens = "sy_tokens"
	// BucketFiles is the object store of uploaded and produced files
	// (object name = file id).
	BucketFiles = "sy_files"

	// SubjSessionCreate is a request/reply subject served by the session
	// service (queue group "session").
	SubjSessionCreate = "sy.svc.session.create"
	// SubjRelayHello is a request/reply subject served by the relay service
	// (queue group "relay"): runtime token check and endpoint registration.
	SubjRelayHello = "sy.svc.relay.hello"
	// SubjRelayConfig (request/reply, relay): apply an endpoint config
	// override and wait for the runtime's endpoint.config_ack.
	SubjRelayConfig = "sy.svc.relay.config"
	// SubjRelayRefresh (request/reply, relay): issue a new runtime token.
	SubjRelayRefresh = "sy.svc.relay.refresh"
	// SubjRelayTokens (request/reply, relay): revoke or issue runtime tokens.
	SubjRelayTokens = "sy.svc.relay.tokens"

	QueueSession = "session"
	QueueRelay   = "relay"

	prefixInbound    = "sy.in."
	prefixRuntime    = "sy.rt."
	prefixTranscript = "sy.evt."
	prefixPod        = "sy.gw."
	prefixCreated    = "sy.sess.created."
	prefixConfigAck  = "sy.ack.config."
)

// ConfigAckSubject carries a runtime's endpoint.config_ack to the relay
// replica waiting for it.
func ConfigAckSubject(endpointID string) string { return prefixConfigAck + endpointID }

// Partition maps a session id onto one of n ordered partitions.
func Partition(sessionID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(sessionID))
	return int(h.Sum32() % uint32(n))
}

// InboundSubject is where a gateway publishes a session's inbound events.
func InboundSubject(partitions int, sessionID string) string {
	return prefixInbound + strconv.Itoa(Partition(sessionID, partitions)) + "." + sessionID
}

// RuntimeSubject is where the session service publishes hub→runtime
// commands of a session.
func RuntimeSubject(partitions int, sessionID string) string {
	return prefixRuntime + strconv.Itoa(Partition(sessionID, partitions)) + "." + sessionID
}

// TranscriptSubject is the transcript subject of a session.
func TranscriptSubject(sessionID string) string { return prefixTranscript + sessionID }

// SessionFromTranscriptSubject returns the session id of a transcript subject.
func SessionFromTranscriptSubject(subject string) string {
	return strings.TrimPrefix(subject, prefixTranscript)
}

// PodSubject is the directed-delivery subject of one gateway pod.
func PodSubject(pod string) string { return prefixPod + pod }

// SessionCreatedSubject carries the outcome of session.create to the
// session-service replica waiting for it.
func SessionCreatedSubject(sessionID string) string { return prefixCreated + sessionID }

// ValidToken reports whether s can be used as one NATS subject token (and
// so as a session id, runtime id or pod name).
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Internal envelope types, now in pkg/kind: use those. These aliases keep
// callers that have not moved yet compiling, and go once they have (not
// marked Deprecated, so staticcheck stays clean meanwhile).
const (
	TypeRouteFailed       = kind.RouteFailed
	TypeDeliveryAck       = kind.DeliveryAck
	TypeCreateSession     = kind.CreateSession
	TypeRuntimeHello      = kind.RuntimeHello
	TypePermissionTimeout = kind.PermissionTimeout
	TypeSessionIdle       = kind.SessionIdle
	TypeConnClose         = kind.ConnClose
	TypeRuntimeStatus     = kind.RuntimeStatus
)

// Subjects added for issue 9 (endpoint ownership, live fan-out).
const (
	// SubjRelayRelease (request/reply, relay): an admin releases an
	// endpoint's owner (kind.EndpointRelease).
	SubjRelayRelease = "sy.svc.relay.release"
	// SubjRelayConfigResult (request/reply, relay): a runtime's ack of a
	// config override re-sent after its hello (no admin waits for it).
	SubjRelayConfigResult = "sy.svc.relay.config_result"

	prefixLive = "sy.live."
)

// LiveSubject is where SY_EVT republishes each message it stored for a
// session (JetStream RePublish from sy.evt.<session>), with the stored
// headers plus Nats-Sequence. Gateways follow a session here: it carries
// only what the stream accepted, never an append the stream refused.
func LiveSubject(sessionID string) string { return prefixLive + sessionID }

// SessionFromLiveSubject returns the session id of a live subject.
func SessionFromLiveSubject(subject string) string { return strings.TrimPrefix(subject, prefixLive) }

// Upload service (services/upload; docs/architecture.md, "Uploads").
const (
	// StreamUploads holds the bytes of uploads, one message per stored
	// chunk: sy.upc.<upload>.<file index>.<offset>.<length>.
	StreamUploads = "SY_UPLOADS"
	// BucketUploads holds upload manifests (m.<upload>), per-file stored
	// ranges (f.<upload>.<file index>), byte totals (n.<upload>) and
	// download grants (k.<sha256 of token>).
	BucketUploads = "sy_uploads"

	// Request/reply subjects of the upload service (queue group "upload").
	SubjUploadInit     = "sy.svc.upload.init"
	SubjUploadChunk    = "sy.svc.upload.chunk"
	SubjUploadStatus   = "sy.svc.upload.status"
	SubjUploadComplete = "sy.svc.upload.complete"
	SubjUploadCancel   = "sy.svc.upload.cancel"
	QueueUpload        = "upload"

	// Push-channel events (transfer progress, file states, …) travel on
	// pkg/dialect/push's subjects: push.Subject(kind), "sy.push.>".

	// PrefixUploadChunks is the subject prefix of StreamUploads.
	PrefixUploadChunks = "sy.upc."
)

// Scheduled jobs (services/session/jobs). The package creates its buckets
// itself (jobs.EnsureBuckets), so EnsureStreams is unchanged.
const (
	// BucketJobs maps job name → Job.
	BucketJobs = "sy_jobs"
	// BucketJobRuns maps <job>.<tick unix seconds> → JobRun: the claim that
	// makes each tick run once across all session replicas.
	BucketJobRuns = "sy_job_runs"
	// SubjJobsCreate, SubjJobsList and SubjJobsDelete are request/reply
	// subjects served by the session service (queue group "session").
	SubjJobsCreate = "sy.svc.jobs.create"
	SubjJobsList   = "sy.svc.jobs.list"
	SubjJobsDelete = "sy.svc.jobs.delete"
	// SubjJobNotification (core) carries one job.notification envelope per
	// finished run, for every gateway to push to the owner's chat clients.
	// It is outside sy.push.>: the push channels' pods follow that whole
	// namespace and would receive (and reject) every job result.
	SubjJobNotification = "sy.job.notification"
)
