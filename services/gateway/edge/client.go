package edge

import (
	"context"
	"errors"
	"net/http"

	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// serveClient runs one /ws/client socket. The token comes from
// "Authorization: Bearer" or ?token= (browsers cannot set headers). A bad
// token is answered after the upgrade with error{auth_failed} and close
// 1008, so every kind of client can read why.
func (s *Server) serveClient(w http.ResponseWriter, r *http.Request) {
	user, ok := s.clients.Lookup(bearer(r))
	sk := s.accept(w, r, amurg.RoleClient, user)
	if sk == nil {
		return
	}
	defer s.release(sk)
	if !ok {
		s.sendError(sk, "", errcode.AuthFailed, "missing or unknown client token")
		sk.conn.Close(ws.ClosePolicy, "auth_failed")
	}
	_ = sk.conn.ReadLoop(func(binary bool, data []byte) {
		if !ok {
			return
		}
		env := s.decode(sk, binary, data)
		if env == nil {
			return
		}
		switch env.GetType() {
		case amurg.TypePing:
			s.pong(sk)
		case amurg.TypePong:
		case amurg.TypeSubscribe:
			s.subscribe(r.Context(), sk, env)
		case amurg.TypeUnsubscribe:
			s.unsubscribe(r.Context(), sk, env.GetSessionId())
		default:
			s.ingest(sk, env)
		}
	})
}

// subscribe checks that the user may see the session, then replays the
// transcript after after_seq and follows it live.
func (s *Server) subscribe(ctx context.Context, sk *socket, env *syv1.Envelope) {
	session := env.GetSessionId()
	info, _, err := s.cat.Session(ctx, session)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		s.sendError(sk, session, errcode.SessionNotFound, "no session "+session)
		return
	case err != nil:
		s.sendError(sk, session, errcode.Unavailable, "session lookup failed; retry")
		return
	case info.GetUserId() != sk.user():
		s.sendError(sk, session, errcode.Forbidden, "session "+session+" belongs to another user")
		return
	}
	if err := s.topics.join(ctx, sk, session, env.GetSubscribe().GetAfterSeq()); err != nil {
		s.log.WarnContext(ctx, "subscribe failed", "session", session, "err", err)
		s.sendError(sk, session, errcode.Unavailable, "history could not be read; subscribe again")
		return
	}
	if err := s.reg.Subscribe(ctx, session, sk.id); err != nil {
		s.log.WarnContext(ctx, "subscription ownership not recorded", "session", session, "err", err)
	}
}

func (s *Server) unsubscribe(ctx context.Context, sk *socket, session string) {
	if !s.topics.leave(sk, session) {
		s.sendError(sk, session, errcode.NotSubscribed, "this socket does not follow session "+session)
		return
	}
	if err := s.reg.Unsubscribe(ctx, session, sk.id); err != nil {
		s.log.WarnContext(ctx, "unsubscribe not recorded", "session", session, "err", err)
	}
}
