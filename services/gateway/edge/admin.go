package edge

// Admin REST (endpoint config overrides, runtime tokens), the runtime's
// endpoint.config_ack, and the per-socket refresh of hub-issued runtime
// tokens. Tokens are never logged; a socket's current token is kept only
// as its SHA-256 digest, in the refresh goroutine of that socket.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// adminRoutes serves the admin API (also without the /v1 prefix, like the
// rest of the REST API). Every call needs an admin token (SY_ADMIN_TOKENS):
// 401 auth_failed without a known token, 403 forbidden for a client token.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	admins, err := auth.ParseTable(s.cfg.AdminTokens)
	if err != nil {
		// Fail closed: no admin call is served with a broken table.
		s.log.Error("admin tokens unusable (SY_ADMIN_TOKENS); every admin call is refused", "err", err)
		admins, _ = auth.ParseTable(nil)
	}
	admin := func(h restHandler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := bearer(r)
			name, ok := admins.Lookup(tok)
			_, client := s.clients.Lookup(tok)
			switch {
			case ok:
				h(w, r, name)
			case client:
				writeError(w, http.StatusForbidden, errcode.Forbidden, "this call needs an admin token")
			default:
				writeError(w, http.StatusUnauthorized, errcode.AuthFailed, "missing or unknown admin token")
			}
		}
	}
	for _, prefix := range []string{"", "/v1"} {
		mux.HandleFunc("PUT "+prefix+"/endpoints/{id}/config", admin(s.putEndpointConfig))
		mux.HandleFunc("POST "+prefix+"/runtimes/{id}/tokens", admin(s.issueRuntimeToken))
		mux.HandleFunc("DELETE "+prefix+"/runtimes/{id}/tokens", admin(s.revokeRuntimeTokens))
	}
}

// adminStatus is the HTTP status of an error code the relay answers with.
func adminStatus(code string) int {
	switch code {
	case errcode.InvalidMessage:
		return http.StatusBadRequest
	case errcode.AuthFailed:
		return http.StatusUnauthorized
	case errcode.EndpointUnknown:
		return http.StatusNotFound
	case errcode.RuntimeOffline, errcode.Unavailable:
		return http.StatusServiceUnavailable
	case errcode.RuntimeTimeout:
		return http.StatusGatewayTimeout
	case errcode.RuntimeError:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// relayWait bounds a request the relay answers after waiting on a runtime
// for up to the request timeout.
func (s *Server) relayWait() time.Duration {
	return s.cfg.RequestTimeout + max(s.cfg.RequestTimeout/10, time.Second)
}

// askRelay sends an admin request to the relay; a nil reply means the
// error response was written.
func (s *Server) askRelay(ctx context.Context, w http.ResponseWriter, subject string, req *syv1.Envelope) *syv1.Envelope {
	rctx, cancel := context.WithTimeout(ctx, s.relayWait())
	defer cancel()
	reply, err := s.bus.Request(rctx, subject, req)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, "the relay service did not answer; retry")
		return nil
	}
	if e := reply.GetError(); e != nil {
		writeError(w, adminStatus(e.GetCode()), e.GetCode(), e.GetMessage())
		return nil
	}
	return reply
}

// putEndpointConfig: PUT /v1/endpoints/{id}/config with
// {"security":{…},"limits":{…}} (at least one). The relay stores the
// override, sends endpoint.config_update to the runtime and waits for its
// endpoint.config_ack.
func (s *Server) putEndpointConfig(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := s.tracer.Start(r.Context(), "gateway.PUT /endpoints/{id}/config", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.endpoint_id", id)))
	defer span.End()
	var body struct {
		Security map[string]any `json:"security"`
		Limits   map[string]any `json:"limits"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be a JSON object with security and/or limits objects")
		return
	}
	if !bus.ValidToken(id) {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "endpoint ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	upd := &syv1.EndpointConfigUpdate{EndpointId: id}
	var err error
	if body.Security != nil {
		if upd.Security, err = structpb.NewStruct(body.Security); err != nil {
			writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "security: "+err.Error())
			return
		}
	}
	if body.Limits != nil {
		if upd.Limits, err = structpb.NewStruct(body.Limits); err != nil {
			writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "limits: "+err.Error())
			return
		}
	}
	if upd.Security == nil && upd.Limits == nil {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "body needs a security or a limits object")
		return
	}
	s.log.InfoContext(ctx, "endpoint config update requested", "endpoint", id, "admin", admin)
	req := &syv1.Envelope{Type: amurg.TypeEndpointConfigUpdate, EndpointId: id, UserId: admin,
		Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: upd}}
	if s.askRelay(ctx, w, bus.SubjRelayConfig, req) == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoint_id": id, "ok": true})
}

// issueRuntimeToken: POST /v1/runtimes/{id}/tokens issues a new hub token
// for the runtime id (and lifts a revocation). The answer is the only
// place a token is ever shown.
func (s *Server) issueRuntimeToken(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := s.tracer.Start(r.Context(), "gateway.POST /runtimes/{id}/tokens", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.runtime_id", id)))
	defer span.End()
	if !bus.ValidToken(id) {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "runtime ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	s.log.InfoContext(ctx, "runtime token issue requested", "runtime", id, "admin", admin)
	reply := s.askRelay(ctx, w, bus.SubjRelayTokens, &syv1.Envelope{Type: auth.TypeTokensIssue, RuntimeId: id, UserId: admin})
	if reply == nil {
		return
	}
	tr := reply.GetTokenRefresh()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"runtime_id": id, "token": tr.GetToken(), "expires_at": tr.GetExpiresAt()})
}

// revokeRuntimeTokens: DELETE /v1/runtimes/{id}/tokens refuses every token
// of the runtime id (pre-shared ones included) until an admin issues a new
// one, and closes its sockets with error{auth_failed} and 1008.
func (s *Server) revokeRuntimeTokens(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := s.tracer.Start(r.Context(), "gateway.DELETE /runtimes/{id}/tokens", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.runtime_id", id)))
	defer span.End()
	if !bus.ValidToken(id) {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "runtime ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	s.log.InfoContext(ctx, "runtime token revocation requested", "runtime", id, "admin", admin)
	reply := s.askRelay(ctx, w, bus.SubjRelayTokens, &syv1.Envelope{Type: auth.TypeTokensRevoke, RuntimeId: id, UserId: admin})
	if reply == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runtime_id": id, "revoked_at": reply.GetTs(),
		"disconnected": reply.GetRuntimeStatus().GetRoute() != nil})
}

// configAck hands a runtime's endpoint.config_ack to the relay replica
// waiting for it, if the endpoint is this runtime's.
func (s *Server) configAck(sk *socket, env *syv1.Envelope) {
	ctx := context.Background()
	id := env.GetEndpointConfigAck().GetEndpointId()
	rec, err := s.cat.Endpoint(ctx, id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		s.sendError(sk, "", errcode.EndpointUnknown, "no endpoint "+id)
		return
	case err != nil:
		s.sendError(sk, "", errcode.Unavailable, "the hub could not accept this endpoint.config_ack; retry")
		return
	case rec.GetRuntimeId() != sk.user():
		s.sendError(sk, "", errcode.Forbidden, "endpoint "+id+" belongs to another runtime")
		return
	}
	env.RuntimeId, env.EndpointId = sk.user(), id
	env.Origin = &syv1.Route{Pod: s.pod, ConnId: sk.id, Dialect: sk.role.String()}
	if err := s.bus.Send(ctx, bus.ConfigAckSubject(id), env); err != nil {
		s.log.WarnContext(ctx, "config ack not forwarded", "endpoint", id, "err", err)
		s.sendError(sk, "", errcode.Unavailable, "the hub could not accept this endpoint.config_ack; retry")
	}
}

// closeConn ends a socket on request (bus.TypeConnClose, e.g. the relay
// after a token revocation): the reason as an error frame, then close 1008.
func (s *Server) closeConn(sk *socket, env *syv1.Envelope) error {
	if rid := env.GetRuntimeId(); rid != "" && rid != sk.user() {
		return deliveryError("socket " + sk.id + " is not runtime " + rid + "'s")
	}
	code, msg := env.GetError().GetCode(), env.GetError().GetMessage()
	if code == "" {
		code = errcode.AuthFailed
	}
	s.sendError(sk, "", code, msg)
	sk.conn.Close(ws.ClosePolicy, code)
	s.log.Info("socket closed on request", "conn", sk.id, "runtime", sk.user(), "code", code)
	return nil
}

// afterHello runs once a runtime's hello is accepted and hello.ack queued:
// it re-sends the stored config overrides of its endpoints, then keeps a
// hub-issued token on the socket (issuing one at once when the runtime
// used a pre-shared token) and refreshes it before it expires.
func (s *Server) afterHello(sk *socket, rid, token string, ack *syv1.HelloAck) {
	now := amurg.Timestamp(time.Now())
	for _, c := range ack.GetConfigs() {
		_ = s.sendEnvelope(sk, &syv1.Envelope{Type: amurg.TypeEndpointConfigUpdate, Ts: now, EndpointId: c.GetEndpointId(),
			Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: c}})
	}
	var expires time.Time // zero: a pre-shared token, replace it now
	if e := ack.GetTokenExpiresAt(); e != "" {
		var err error
		if expires, err = time.Parse(time.RFC3339Nano, e); err != nil {
			s.log.Warn("runtime token expiry unreadable; refreshing now", "runtime", rid, "err", err)
			expires = time.Now()
		}
	}
	go s.keepTokenFresh(sk, rid, auth.Digest(token), expires)
}

// refreshDelay is how long before refreshing a token with this much life
// left: until before ahead of expiry, or at 80% of the remaining life
// when that is shorter than before.
func refreshDelay(remaining, before time.Duration) time.Duration {
	switch {
	case remaining <= 0:
		return 0
	case remaining > before:
		return remaining - before
	}
	return remaining * 8 / 10
}

// keepTokenFresh refreshes the socket's token until the socket ends. Only
// the token's digest is held; the new token goes straight to the socket.
func (s *Server) keepTokenFresh(sk *socket, rid, digest string, expires time.Time) {
	backoff := time.Second
	next := time.Now()
	if !expires.IsZero() {
		next = next.Add(refreshDelay(time.Until(expires), s.cfg.TokenRefreshBefore))
	}
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-sk.conn.Done():
			t.Stop()
			return
		case <-t.C:
		}
		tok, exp, code, err := s.refreshToken(rid, digest)
		switch {
		case err == nil:
			_ = s.sendEnvelope(sk, &syv1.Envelope{Type: amurg.TypeTokenRefresh, Ts: amurg.Timestamp(time.Now()),
				Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: tok, ExpiresAt: amurg.Timestamp(exp)}}})
			digest, backoff = auth.Digest(tok), time.Second
			next = time.Now().Add(refreshDelay(time.Until(exp), s.cfg.TokenRefreshBefore))
			s.log.Debug("runtime token refreshed", "runtime", rid, "conn", sk.id, "expires_at", amurg.Timestamp(exp))
		case code == errcode.AuthFailed:
			s.log.Warn("runtime token no longer valid; closing its socket", "runtime", rid, "conn", sk.id, "reason", err)
			s.sendError(sk, "", errcode.AuthFailed, "runtime token no longer valid: "+err.Error())
			sk.conn.Close(ws.ClosePolicy, errcode.AuthFailed)
			return
		default:
			s.log.Warn("runtime token not refreshed; retrying", "runtime", rid, "conn", sk.id, "in", backoff, "err", err)
			next = time.Now().Add(backoff)
			backoff = min(2*backoff, time.Minute)
		}
	}
}

// refreshToken asks the relay for a new token in exchange for the one with
// this digest. code is the relay's error code when it refused.
func (s *Server) refreshToken(rid, digest string) (token string, expires time.Time, code string, err error) {
	ctx, span := s.tracer.Start(context.Background(), "gateway.token_refresh", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("sy.runtime_id", rid)))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req := &syv1.Envelope{Type: amurg.TypeTokenRefresh, RuntimeId: rid,
		Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: digest}}}
	reply, err := s.bus.Request(ctx, bus.SubjRelayRefresh, req)
	if err != nil {
		return "", time.Time{}, "", err
	}
	if e := reply.GetError(); e != nil {
		return "", time.Time{}, e.GetCode(), errors.New(e.GetMessage())
	}
	tr := reply.GetTokenRefresh()
	if expires, err = time.Parse(time.RFC3339Nano, tr.GetExpiresAt()); err != nil || tr.GetToken() == "" {
		return "", time.Time{}, "", errors.New("the relay answered without a token")
	}
	return tr.GetToken(), expires, "", nil
}
