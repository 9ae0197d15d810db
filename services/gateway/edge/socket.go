package edge

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// socket is one accepted WebSocket of the runtime/client dialect.
type socket struct {
	id   string
	role amurg.Role
	conn *ws.Conn
	sent prometheus.Counter // frames_out{dialect}, resolved once
	// limit bounds the frames this socket may send; nil: unlimited.
	limit *rate.Limiter
	// limited throttles rate_limited error frames to one per second.
	limited rate.Sometimes
	// acks (runtime sockets) carries in-flight publishes to the goroutine
	// that waits for their JetStream acks, in order; nil: publish synchronously.
	acks chan inflight

	mu        sync.Mutex
	principal string                   // user id, or runtime id after hello
	subs      map[string]*subscription // client: session id → subscription
}

func (sk *socket) user() string {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	return sk.principal
}

// accept upgrades an HTTP request and registers the socket.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, role amurg.Role, principal string) *socket {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return nil
	}
	c, err := ws.Upgrader().Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered (400 for a non-upgrade request).
		return nil
	}
	sk := &socket{id: s.newConnID(), role: role, conn: ws.New(c, s.cfg.wsOptions()), principal: principal,
		sent: s.m.framesOut.WithLabelValues(role.String()), limited: rate.Sometimes{Interval: time.Second}}
	sk.limit = s.limiter(role)
	if role == amurg.RoleRuntime {
		sk.acks = make(chan inflight, ingestWindow)
		go s.awaitAcks(sk)
	}
	sk.conn.OnOverflow = func() { s.m.drops.WithLabelValues(role.String()).Inc() }
	s.mu.Lock()
	s.sockets[sk.id] = sk
	s.mu.Unlock()
	s.m.conns.WithLabelValues(role.String()).Inc()
	if err := s.reg.AddConn(r.Context(), sk.id, ownership.ConnInfo{Dialect: role.String(), Principal: principal, Remote: sk.conn.RemoteAddr()}); err != nil {
		s.log.Warn("ownership not recorded", "conn", sk.id, "err", err)
	}
	return sk
}

// limiter is the frame rate limit of a new socket of role (nil: none).
func (s *Server) limiter(role amurg.Role) *rate.Limiter {
	limit, burst := s.cfg.RateLimit, s.cfg.RateBurst
	if role == amurg.RoleRuntime {
		limit, burst = s.cfg.RuntimeRateLimit, s.cfg.RuntimeRateBurst
	}
	if limit <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(limit), max(burst, 1))
}

// release forgets a finished socket everywhere.
func (s *Server) release(sk *socket) {
	s.mu.Lock()
	delete(s.sockets, sk.id)
	s.mu.Unlock()
	s.m.conns.WithLabelValues(sk.role.String()).Dec()
	s.topics.leaveAll(sk)
	if sk.acks != nil {
		close(sk.acks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rid := sk.user(); sk.role == amurg.RoleRuntime && rid != "" {
		// Announce the runtime offline only if this socket still held it: a
		// runtime that already reconnected elsewhere is not offline.
		pod, conn, held, _ := s.owners.Runtime(ctx, rid)
		if err := s.reg.ReleaseRuntime(ctx, rid, sk.id); err != nil {
			s.log.Warn("runtime ownership not released", "runtime", rid, "err", err)
		}
		if held && pod == s.pod && conn == sk.id {
			s.announceRuntime(ctx, rid, false)
		}
	}
	if err := s.reg.RemoveConn(ctx, sk.id); err != nil {
		s.log.Warn("ownership not removed", "conn", sk.id, "err", err)
	}
}

func (s *Server) socket(id string) *socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockets[id]
}

// send writes a frame to one socket and counts it.
func (s *Server) send(sk *socket, frame []byte) {
	if err := sk.conn.Send(frame); err == nil {
		sk.sent.Inc()
	}
}

func (s *Server) sendError(sk *socket, session, code, message string) {
	s.m.errors.WithLabelValues(code).Inc()
	s.send(sk, amurg.ErrorFrame(session, code, message, amurg.Timestamp(time.Now())))
}

func (s *Server) sendEnvelope(sk *socket, env *syv1.Envelope) error {
	frame, err := amurg.Encode(env, sk.role)
	if err != nil {
		return err
	}
	s.send(sk, frame)
	return nil
}

// decode parses a frame, answering a bad one with an error frame; the
// socket stays open.
func (s *Server) decode(sk *socket, binary bool, data []byte) *syv1.Envelope {
	s.m.framesIn.WithLabelValues(sk.role.String()).Inc()
	if sk.limit != nil && !sk.limit.Allow() {
		s.m.errors.WithLabelValues(errcode.RateLimited).Inc()
		sk.limited.Do(func() {
			s.send(sk, amurg.ErrorFrame("", errcode.RateLimited, "too many frames: this socket may send "+
				strconv.FormatFloat(float64(sk.limit.Limit()), 'f', -1, 64)+" per second; frames above it are dropped", amurg.Timestamp(time.Now())))
		})
		return nil
	}
	if binary {
		s.sendError(sk, "", errcode.UnsupportedType, "binary frames are not part of this dialect")
		return nil
	}
	env, derr := amurg.Decode(data, sk.role, time.Now())
	if derr != nil {
		s.sendError(sk, derr.SessionID, derr.Code, derr.Message)
		return nil
	}
	return env
}

func (s *Server) pong(sk *socket) {
	s.send(sk, pongFrame(time.Now()))
}

func pongFrame(now time.Time) []byte {
	return []byte(`{"type":"pong","ts":"` + amurg.Timestamp(now) + `"}`)
}

// ingest hands an envelope from a socket to the session service (SY_IN).
// The envelope is stamped with where it came from and who sent it.
func (s *Server) ingest(sk *socket, env *syv1.Envelope) {
	ctx, span := s.tracer.Start(context.Background(), "gateway.ingest "+env.GetType(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("sy.session_id", env.GetSessionId()), attribute.String("sy.conn", sk.id)))
	env.Origin = &syv1.Route{Pod: s.pod, ConnId: sk.id, Dialect: sk.role.String()}
	if sk.role == amurg.RoleRuntime {
		env.RuntimeId = sk.user()
	} else {
		env.UserId = sk.user()
	}
	assignID(env)
	subject := bus.InboundSubject(s.cfg.Partitions, env.GetSessionId())
	if sk.acks != nil {
		// A streaming runtime does not wait for each ack: up to
		// ingestWindow publishes are in flight, then reading pauses.
		fut, err := s.bus.PublishAsync(ctx, subject, env)
		if err != nil {
			s.notAccepted(ctx, sk, env, span, err)
			span.End()
			return
		}
		sk.acks <- inflight{fut: fut, env: env, span: span, ctx: ctx, start: time.Now()}
		return
	}
	defer span.End()
	start := time.Now()
	_, err := s.bus.Publish(ctx, subject, env)
	s.m.publishLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		s.notAccepted(ctx, sk, env, span, err)
	}
}

// ingestWindow bounds a runtime socket's publishes awaiting their ack.
const ingestWindow = 256

// inflight is one publish waiting for its JetStream ack.
type inflight struct {
	fut   jetstream.PubAckFuture
	env   *syv1.Envelope
	span  trace.Span
	ctx   context.Context
	start time.Time
}

// awaitAcks settles a runtime socket's publishes in order until the socket
// is released; a failed one is answered with error{unavailable}.
func (s *Server) awaitAcks(sk *socket) {
	for p := range sk.acks {
		select {
		case <-p.fut.Ok():
		case err := <-p.fut.Err():
			s.notAccepted(p.ctx, sk, p.env, p.span, err)
		}
		s.m.publishLatency.Observe(time.Since(p.start).Seconds())
		p.span.End()
	}
}

// notAccepted tells the sender a frame was not stored (nothing is half
// accepted: the sender may retry it).
func (s *Server) notAccepted(ctx context.Context, sk *socket, env *syv1.Envelope, span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	s.log.WarnContext(ctx, "frame not accepted", "type", env.GetType(), "err", err)
	s.sendError(sk, env.GetSessionId(), errcode.Unavailable, "the hub could not accept this "+env.GetType()+"; retry")
}

// assignID gives an envelope its dedupe id: a user.message is identified
// by its client message_id (the document's idempotency key), other frames
// by their envelope id, and frames without one by a fresh id.
func assignID(env *syv1.Envelope) {
	if um := env.GetUserMessage(); um != nil {
		if um.GetMessageId() == "" {
			um.MessageId = nuid.Next()
		}
		env.Id = "msg-" + um.GetMessageId()
		return
	}
	if env.GetId() == "" {
		env.Id = nuid.Next()
	}
}

// bearer extracts a token from "Authorization: Bearer …" or ?token=.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("token")
}
