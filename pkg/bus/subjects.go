package bus

import (
	"hash/fnv"
	"strconv"
	"strings"
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

	// SubjSessionCreate is a request/reply subject served by the session
	// service (queue group "session").
	SubjSessionCreate = "sy.svc.session.create"
	// SubjRelayHello is a request/reply subject served by the relay service
	// (queue group "relay"): runtime token check and endpoint registration.
	SubjRelayHello = "sy.svc.relay.hello"

	QueueSession = "session"
	QueueRelay   = "relay"

	prefixInbound    = "sy.in."
	prefixRuntime    = "sy.rt."
	prefixTranscript = "sy.evt."
	prefixPod        = "sy.gw."
	prefixCreated    = "sy.sess.created."
)

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

// Internal envelope types (never on a socket).
const (
	// TypeRouteFailed: relay → session, a hub-to-runtime command could not
	// be delivered (body RouteFailed).
	TypeRouteFailed = "route.failed"
	// TypeDeliveryAck: gateway → relay, reply to a directed delivery.
	TypeDeliveryAck = "delivery.ack"
	// TypeCreateSession: gateway → session service, REST session creation.
	TypeCreateSession = "session.create_request"
	// TypeRuntimeHello: gateway → relay hello check (body RuntimeHello).
	TypeRuntimeHello = "runtime.hello"
)
