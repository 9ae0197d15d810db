package edge

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// serveRuntime runs one /ws/runtime socket: runtime.hello first, then the
// runtime's events go to the session service.
func (s *Server) serveRuntime(w http.ResponseWriter, r *http.Request) {
	sk := s.accept(w, r, amurg.RoleRuntime, "")
	if sk == nil {
		return
	}
	defer s.release(sk)
	err := sk.conn.ReadLoop(func(binary bool, data []byte) {
		env := s.decode(sk, binary, data)
		if env == nil {
			return
		}
		hello := sk.user() != ""
		switch {
		case env.GetType() == amurg.TypePing:
			s.pong(sk)
		case env.GetType() == amurg.TypePong:
		case !hello && env.GetType() != amurg.TypeRuntimeHello:
			s.sendError(sk, "", errcode.AuthFailed, "the first frame on /ws/runtime must be runtime.hello")
			sk.conn.Close(ws.ClosePolicy, "auth_failed")
		case env.GetType() == amurg.TypeRuntimeHello:
			s.hello(sk, env, hello)
		case env.GetType() == amurg.TypeFileAvailable:
			s.storeAvailableFile(sk, env) // files.go: bytes to the object store, metadata onward
		case env.GetType() == amurg.TypeEndpointConfigAck:
			s.configAck(sk, env) // admin.go: to the relay replica waiting for it
		default:
			s.ingest(sk, env)
		}
	})
	s.log.Debug("runtime socket ended", "conn", sk.id, "runtime", sk.user(), "err", err)
}

// hello checks the runtime's token with the relay and claims the runtime
// for this socket.
func (s *Server) hello(sk *socket, env *syv1.Envelope, again bool) {
	if again {
		s.sendError(sk, "", errcode.UnsupportedType, "runtime.hello was already accepted on this socket")
		return
	}
	ctx, span := s.tracer.Start(context.Background(), "gateway.hello", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rid := env.GetRuntimeHello().GetRuntimeId()
	reply, err := s.bus.Request(rctx, bus.SubjRelayHello, env)
	ack := reply.GetHelloAck()
	if err != nil || ack == nil {
		s.log.WarnContext(ctx, "runtime hello not checked", "runtime", rid, "err", err)
		s.sendHelloAck(sk, &syv1.HelloAck{Ok: false, Error: "unavailable: the hub cannot check runtime tokens now; reconnect later"})
		sk.conn.Close(ws.CloseTryAgain, "unavailable")
		return
	}
	if !ack.GetOk() {
		s.sendHelloAck(sk, ack)
		if strings.HasPrefix(ack.GetError(), errcode.Unavailable) { // the relay could not check: try again later
			sk.conn.Close(ws.CloseTryAgain, errcode.Unavailable)
			return
		}
		sk.conn.Close(ws.ClosePolicy, "auth_failed")
		return
	}
	sk.mu.Lock()
	sk.principal = rid
	sk.mu.Unlock()
	if err := s.reg.ClaimRuntime(ctx, rid, sk.id); err != nil {
		s.log.WarnContext(ctx, "runtime ownership not recorded", "runtime", rid, "err", err)
		s.sendHelloAck(sk, &syv1.HelloAck{Ok: false, Error: "unavailable: ownership store unreachable; reconnect later"})
		sk.conn.Close(ws.CloseTryAgain, "unavailable")
		return
	}
	_ = s.reg.AddConn(ctx, sk.id, ownership.ConnInfo{Dialect: sk.role.String(), Principal: rid, Remote: sk.conn.RemoteAddr()})
	s.log.InfoContext(ctx, "runtime online", "runtime", rid, "conn", sk.id, "endpoints", len(env.GetRuntimeHello().GetEndpoints()))
	s.sendHelloAck(sk, ack)
	s.announceRuntime(ctx, rid, true)
	// admin.go: stored config overrides, then the hub-issued token and its refreshes.
	s.afterHello(sk, rid, env.GetRuntimeHello().GetToken(), ack)
}

func (s *Server) sendHelloAck(sk *socket, ack *syv1.HelloAck) {
	_ = s.sendEnvelope(sk, &syv1.Envelope{Type: amurg.TypeHelloAck, Ts: amurg.Timestamp(time.Now()), Body: &syv1.Envelope_HelloAck{HelloAck: ack}})
}
