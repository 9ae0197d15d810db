package bus

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// Streams, buckets and subjects. docs/architecture.md has the full map.
//
// Every name is a function: it carries the installation's namespace
// (pkg/namespace, SY_NAMESPACE), so no call site can use an unprefixed
// name by mistake. With the default empty namespace the names are the
// ones below.

// StreamInbound holds everything a gateway hands to the session service:
// runtime events and client commands, subject sy.in.<partition>.<session>.
func StreamInbound() string { return namespace.Stream("SY_IN") }

// StreamRuntime holds hub→runtime commands for the relay service,
// subject sy.rt.<partition>.<session>.
func StreamRuntime() string { return namespace.Stream("SY_RT") }

// StreamTranscript is the durable per-session transcript, subject
// sy.evt.<session>; it republishes what it stores on sy.live.<session>.
func StreamTranscript() string { return namespace.Stream("SY_EVT") }

// BucketSessions maps session id → SessionInfo.
func BucketSessions() string { return namespace.Stream("sy_sessions") }

// BucketEndpoints maps endpoint id → EndpointRecord.
func BucketEndpoints() string { return namespace.Stream("sy_endpoints") }

// BucketPermissions maps <session>.<request_id> → PermissionRecord.
func BucketPermissions() string { return namespace.Stream("sy_permissions") }

// BucketTokens maps t.<sha256 hex> → TokenRecord and r.<runtime> →
// RuntimeTokenState.
func BucketTokens() string { return namespace.Stream("sy_tokens") }

// BucketFiles is the object store of uploaded and produced files (object
// name = file id).
func BucketFiles() string { return namespace.Stream("sy_files") }

// BucketQuotas holds the session service's per-user quota windows (key
// u.<sha256 of the user id, hex>); entries expire after QuotaBucketTTL.
func BucketQuotas() string { return namespace.Stream("sy_quotas") }

// SubjSessionCreate is a request/reply subject served by the session
// service (queue group "session").
func SubjSessionCreate() string { return namespace.Subject("sy.svc.session.create") }

// SubjRelayHello (request/reply, relay): runtime token check and endpoint
// registration.
func SubjRelayHello() string { return namespace.Subject("sy.svc.relay.hello") }

// SubjRelayConfig (request/reply, relay): apply an endpoint config
// override and wait for the runtime's endpoint.config_ack.
func SubjRelayConfig() string { return namespace.Subject("sy.svc.relay.config") }

// SubjRelayRefresh (request/reply, relay): issue a new runtime token.
func SubjRelayRefresh() string { return namespace.Subject("sy.svc.relay.refresh") }

// SubjRelayTokens (request/reply, relay): revoke or issue runtime tokens.
func SubjRelayTokens() string { return namespace.Subject("sy.svc.relay.tokens") }

// SubjRelayRelease (request/reply, relay): an admin releases an endpoint's
// owner (kind.EndpointRelease).
func SubjRelayRelease() string { return namespace.Subject("sy.svc.relay.release") }

// SubjRelayConfigResult (request/reply, relay): a runtime's ack of a
// config override re-sent after its hello (no admin waits for it).
func SubjRelayConfigResult() string { return namespace.Subject("sy.svc.relay.config_result") }

// Queue groups (scoped by subject, so namespaced with them).
const (
	QueueSession = "session"
	QueueRelay   = "relay"
	QueueUpload  = "upload"
)

// Subject prefixes, without the namespace.
const (
	prefixInbound    = "sy.in."
	prefixRuntime    = "sy.rt."
	prefixTranscript = "sy.evt."
	prefixLive       = "sy.live."
	prefixPod        = "sy.gw."
	prefixCreated    = "sy.sess.created."
	prefixConfigAck  = "sy.ack.config."
	prefixUploadSvc  = "sy.svc.upload."
	prefixUploadData = "sy.upc."
)

// ConfigAckSubject carries a runtime's endpoint.config_ack to the relay
// replica waiting for it.
func ConfigAckSubject(endpointID string) string {
	return namespace.SubjectPrefix() + prefixConfigAck + endpointID
}

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
	return InboundPartitionSubject(Partition(sessionID, partitions), sessionID)
}

// InboundPartitionSubject is InboundSubject for a partition already known
// (Partition).
func InboundPartitionSubject(p int, sessionID string) string {
	return namespace.SubjectPrefix() + prefixInbound + strconv.Itoa(p) + "." + sessionID
}

// RuntimeSubject is where the session service publishes hub→runtime
// commands of a session.
func RuntimeSubject(partitions int, sessionID string) string {
	return namespace.SubjectPrefix() + prefixRuntime + strconv.Itoa(Partition(sessionID, partitions)) + "." + sessionID
}

// TranscriptSubject is the transcript subject of a session.
func TranscriptSubject(sessionID string) string {
	return namespace.SubjectPrefix() + prefixTranscript + sessionID
}

// SessionFromTranscriptSubject returns the session id of a transcript subject.
func SessionFromTranscriptSubject(subject string) string {
	return strings.TrimPrefix(strings.TrimPrefix(subject, namespace.SubjectPrefix()), prefixTranscript)
}

// LiveSubject is where SY_EVT republishes each message it stored for a
// session (JetStream RePublish from sy.evt.<session>), with the stored
// headers plus Nats-Sequence. Gateways follow a session here: it carries
// only what the stream accepted, never an append the stream refused.
func LiveSubject(sessionID string) string { return namespace.SubjectPrefix() + prefixLive + sessionID }

// SessionFromLiveSubject returns the session id of a live subject.
func SessionFromLiveSubject(subject string) string {
	return strings.TrimPrefix(strings.TrimPrefix(subject, namespace.SubjectPrefix()), prefixLive)
}

// PodSubject is the directed-delivery subject of one gateway pod.
func PodSubject(pod string) string { return namespace.SubjectPrefix() + prefixPod + pod }

// SessionCreatedSubject carries the outcome of session.create to the
// session-service replica waiting for it.
func SessionCreatedSubject(sessionID string) string {
	return namespace.SubjectPrefix() + prefixCreated + sessionID
}

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

// Upload service (services/upload; docs/architecture.md, "Uploads").

// StreamUploads holds the bytes of uploads, one message per stored chunk:
// sy.upc.<upload>.<file index>.<offset>.<length>.
func StreamUploads() string { return namespace.Stream("SY_UPLOADS") }

// BucketUploads holds upload manifests (m.<upload>), per-file stored
// ranges (f.<upload>.<file index>), byte totals (n.<upload>) and download
// grants (k.<sha256 of token>).
func BucketUploads() string { return namespace.Stream("sy_uploads") }

// Request/reply subjects of the upload service (queue group "upload").
func SubjUploadInit() string     { return namespace.Subject(prefixUploadSvc + "init") }
func SubjUploadChunk() string    { return namespace.Subject(prefixUploadSvc + "chunk") }
func SubjUploadStatus() string   { return namespace.Subject(prefixUploadSvc + "status") }
func SubjUploadComplete() string { return namespace.Subject(prefixUploadSvc + "complete") }
func SubjUploadCancel() string   { return namespace.Subject(prefixUploadSvc + "cancel") }

// UploadOp is the operation of an upload-service request subject ("init",
// "chunk", …), "" for another subject.
func UploadOp(subject string) string {
	op, ok := strings.CutPrefix(subject, namespace.SubjectPrefix()+prefixUploadSvc)
	if !ok {
		return ""
	}
	return op
}

// PrefixUploadChunks is the subject prefix of StreamUploads. Push-channel
// events (transfer progress, file states, …) travel on pkg/dialect/push's
// subjects: push.Subject(kind), push.SubjectAll().
func PrefixUploadChunks() string { return namespace.SubjectPrefix() + prefixUploadData }

// Scheduled jobs (services/session/jobs). The package creates its buckets
// itself (jobs.EnsureBuckets), so EnsureStreams is unchanged.

// BucketJobs maps job name → Job.
func BucketJobs() string { return namespace.Stream("sy_jobs") }

// BucketJobRuns maps <job>.<tick unix seconds> → JobRun: the claim that
// makes each tick run once across all session replicas.
func BucketJobRuns() string { return namespace.Stream("sy_job_runs") }

// SubjJobsCreate, SubjJobsList and SubjJobsDelete are request/reply
// subjects served by the session service (queue group "session").
func SubjJobsCreate() string { return namespace.Subject("sy.svc.jobs.create") }
func SubjJobsList() string   { return namespace.Subject("sy.svc.jobs.list") }
func SubjJobsDelete() string { return namespace.Subject("sy.svc.jobs.delete") }

// SubjJobNotification (core) carries one job.notification envelope per
// finished run, for every gateway to push to the owner's chat clients. It
// is outside sy.push.>: the push channels' pods follow that whole
// namespace and would receive (and reject) every job result.
func SubjJobNotification() string { return namespace.Subject("sy.job.notification") }
