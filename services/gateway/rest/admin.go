package rest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// adminRoutes serves the admin API (also without the /v1 prefix, like the
// rest of the REST API).
func (a *api) adminRoutes() {
	s := a.s
	admin := Admin(s)
	for _, prefix := range Prefixes {
		s.Handle("PUT "+prefix+"/endpoints/{id}/config", admin(a.putEndpointConfig))
		s.Handle("POST "+prefix+"/runtimes/{id}/tokens", admin(a.issueRuntimeToken))
		s.Handle("DELETE "+prefix+"/runtimes/{id}/tokens", admin(a.revokeRuntimeTokens))
		s.Handle("GET "+prefix+"/cluster", admin(a.cluster))
	}
}

// Admin wraps handlers that need an admin token (SY_ADMIN_TOKENS): 401
// auth_failed without a known token, 403 forbidden for a client token.
// Every room that serves admin calls uses it, so the rule is one.
func Admin(s *edge.Server) func(Handler) http.HandlerFunc {
	return func(h Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if name, ok := s.AdminName(edge.Bearer(r)); ok {
				h(w, r, name)
				return
			}
			switch _, client := s.Authenticate(r); {
			case client:
				WriteError(w, http.StatusForbidden, errcode.Forbidden, "this call needs an admin token")
			default:
				WriteError(w, http.StatusUnauthorized, errcode.AuthFailed, "missing or unknown admin token")
			}
		}
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
func (a *api) relayWait() time.Duration {
	return a.s.Config().RequestTimeout + max(a.s.Config().RequestTimeout/10, time.Second)
}

// askRelay sends an admin request to the relay; a nil reply means the
// error response was written.
func (a *api) askRelay(ctx context.Context, w http.ResponseWriter, subject string, req *syv1.Envelope) *syv1.Envelope {
	rctx, cancel := context.WithTimeout(ctx, a.relayWait())
	defer cancel()
	reply, err := a.s.Bus().Request(rctx, subject, req)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, "the relay service did not answer; retry")
		return nil
	}
	if e := reply.GetError(); e != nil {
		WriteError(w, adminStatus(e.GetCode()), e.GetCode(), e.GetMessage())
		return nil
	}
	return reply
}

// putEndpointConfig: PUT /v1/endpoints/{id}/config with
// {"security":{…},"limits":{…}} (at least one). The relay stores the
// override, sends endpoint.config_update to the runtime and waits for its
// endpoint.config_ack.
func (a *api) putEndpointConfig(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := a.s.Tracer().Start(r.Context(), "gateway.PUT /endpoints/{id}/config", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.endpoint_id", id)))
	defer span.End()
	var body struct {
		Security map[string]any `json:"security"`
		Limits   map[string]any `json:"limits"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be a JSON object with security and/or limits objects")
		return
	}
	if !bus.ValidToken(id) {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "endpoint ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	upd := &syv1.EndpointConfigUpdate{EndpointId: id}
	var err error
	if body.Security != nil {
		if upd.Security, err = structpb.NewStruct(body.Security); err != nil {
			WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "security: "+err.Error())
			return
		}
	}
	if body.Limits != nil {
		if upd.Limits, err = structpb.NewStruct(body.Limits); err != nil {
			WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "limits: "+err.Error())
			return
		}
	}
	if upd.Security == nil && upd.Limits == nil {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "body needs a security or a limits object")
		return
	}
	a.s.Log().InfoContext(ctx, "endpoint config update requested", "endpoint", id, "admin", admin)
	req := &syv1.Envelope{Type: kind.EndpointConfigUpdate, EndpointId: id, UserId: admin,
		Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: upd}}
	if a.askRelay(ctx, w, bus.SubjRelayConfig(), req) == nil {
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"endpoint_id": id, "ok": true})
}

// issueRuntimeToken: POST /v1/runtimes/{id}/tokens issues a new hub token
// for the runtime id (and lifts a revocation). The answer is the only
// place a token is ever shown.
func (a *api) issueRuntimeToken(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := a.s.Tracer().Start(r.Context(), "gateway.POST /runtimes/{id}/tokens", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.runtime_id", id)))
	defer span.End()
	if !bus.ValidToken(id) {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "runtime ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	a.s.Log().InfoContext(ctx, "runtime token issue requested", "runtime", id, "admin", admin)
	reply := a.askRelay(ctx, w, bus.SubjRelayTokens(), &syv1.Envelope{Type: kind.TokensIssue, RuntimeId: id, UserId: admin})
	if reply == nil {
		return
	}
	tr := reply.GetTokenRefresh()
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, map[string]any{"runtime_id": id, "token": tr.GetToken(), "expires_at": tr.GetExpiresAt()})
}

// revokeRuntimeTokens: DELETE /v1/runtimes/{id}/tokens refuses every token
// of the runtime id (pre-shared ones included) until an admin issues a new
// one, and closes its sockets with error{auth_failed} and 1008.
func (a *api) revokeRuntimeTokens(w http.ResponseWriter, r *http.Request, admin string) {
	id := r.PathValue("id")
	ctx, span := a.s.Tracer().Start(r.Context(), "gateway.DELETE /runtimes/{id}/tokens", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("sy.runtime_id", id)))
	defer span.End()
	if !bus.ValidToken(id) {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "runtime ids are 1-128 characters of [A-Za-z0-9_-]")
		return
	}
	a.s.Log().InfoContext(ctx, "runtime token revocation requested", "runtime", id, "admin", admin)
	reply := a.askRelay(ctx, w, bus.SubjRelayTokens(), &syv1.Envelope{Type: kind.TokensRevoke, RuntimeId: id, UserId: admin})
	if reply == nil {
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"runtime_id": id, "revoked_at": reply.GetTs(),
		"disconnected": reply.GetRuntimeStatus().GetRoute() != nil})
}
