package edge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// restRoutes serves the REST API under the document's paths (/sessions,
// /endpoints) and the same under /v1/.
func (s *Server) restRoutes(mux *http.ServeMux) {
	for _, prefix := range []string{"", "/v1"} {
		mux.HandleFunc("POST "+prefix+"/sessions", s.authed(s.createSession))
		mux.HandleFunc("GET "+prefix+"/sessions", s.authed(s.listSessions))
		mux.HandleFunc("GET "+prefix+"/sessions/{id}", s.authed(s.getSession))
		mux.HandleFunc("GET "+prefix+"/endpoints", s.authed(s.listEndpoints))
	}
	s.fileRoutes(mux)  // files.go
	s.adminRoutes(mux) // admin.go
}

type restHandler func(w http.ResponseWriter, r *http.Request, user string)

// authed checks the client token of a REST call.
func (s *Server) authed(h restHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, ok := s.clients.Lookup(bearer(r))
		if !ok {
			writeError(w, http.StatusUnauthorized, errcode.AuthFailed, "missing or unknown client token")
			return
		}
		h(w, r, user)
	}
}

// SessionView is the REST representation of a session.
type SessionView struct {
	ID           string `json:"id"`
	EndpointID   string `json:"endpoint_id"`
	RuntimeID    string `json:"runtime_id"`
	UserID       string `json:"user_id"`
	Status       string `json:"status"`
	CreatedAt    string `json:"created_at"`
	ClosedAt     string `json:"closed_at,omitempty"`
	CloseReason  string `json:"close_reason,omitempty"`
	NativeHandle string `json:"native_handle"`
	TurnActive   bool   `json:"turn_active"`
	// RuntimeOnline is false once the session's runtime disconnected
	// (until it says hello again).
	RuntimeOnline bool   `json:"runtime_online"`
	LastSeq       *int64 `json:"last_seq,omitempty"`
	Subscribers   *int   `json:"subscribers,omitempty"`
}

func sessionView(i *syv1.SessionInfo) SessionView {
	return SessionView{ID: i.GetId(), EndpointID: i.GetEndpointId(), RuntimeID: i.GetRuntimeId(), UserID: i.GetUserId(),
		Status: i.GetStatus(), CreatedAt: i.GetCreatedAt(), ClosedAt: i.GetClosedAt(), CloseReason: i.GetCloseReason(),
		NativeHandle: i.GetNativeHandle(), TurnActive: i.GetTurnMessageId() != "", RuntimeOnline: !i.GetRuntimeOffline()}
}

// EndpointView is the REST representation of an endpoint.
type EndpointView struct {
	ID        string            `json:"id"`
	RuntimeID string            `json:"runtime_id"`
	OrgID     string            `json:"org_id,omitempty"`
	Name      string            `json:"name,omitempty"`
	Profile   string            `json:"profile,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Caps      map[string]any    `json:"caps,omitempty"`
	Security  map[string]any    `json:"security,omitempty"`
	Online    bool              `json:"online"`
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, user string) {
	ctx, span := s.tracer.Start(r.Context(), "gateway.POST /sessions", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	var body struct {
		EndpointID string `json:"endpoint_id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.EndpointID == "" {
		writeError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be JSON with an endpoint_id")
		return
	}
	span.SetAttributes(attribute.String("sy.endpoint_id", body.EndpointID))
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout+s.cfg.RequestTimeout/10)
	defer cancel()
	req := &syv1.Envelope{Type: bus.TypeCreateSession, UserId: user, EndpointId: body.EndpointID,
		Body: &syv1.Envelope_CreateSessionRequest{CreateSessionRequest: &syv1.CreateSessionRequest{EndpointId: body.EndpointID, UserId: user}}}
	reply, err := s.bus.Request(rctx, bus.SubjSessionCreate, req)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, "the session service did not answer: "+err.Error())
		return
	}
	cr := reply.GetCreateSessionReply()
	if e := cr.GetError(); e != nil {
		writeError(w, int(cr.GetStatus()), e.GetCode(), e.GetMessage())
		return
	}
	writeJSON(w, http.StatusCreated, sessionView(cr.GetSession()))
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, user string) {
	all, err := s.cat.Sessions(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := []SessionView{}
	for _, i := range all {
		if i.GetUserId() == user {
			out = append(out, sessionView(i))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt < out[b].CreatedAt })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	info, _, err := s.cat.Session(ctx, r.PathValue("id"))
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, errcode.SessionNotFound, "no session "+r.PathValue("id"))
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	case info.GetUserId() != user:
		writeError(w, http.StatusForbidden, errcode.Forbidden, "session belongs to another user")
		return
	}
	v := sessionView(info)
	if end, err := s.store.Last(ctx, info.GetId()); err == nil {
		v.LastSeq = &end.Seq
	}
	if subs, err := s.owners.Subscribers(ctx, info.GetId(), s.cfg.OwnerTTL); err == nil {
		n := 0
		for _, c := range subs {
			n += len(c)
		}
		v.Subscribers = &n
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, _ string) {
	ctx := r.Context()
	recs, err := s.cat.Endpoints(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	rids := make([]string, 0, len(recs))
	for _, rec := range recs {
		rids = append(rids, rec.GetRuntimeId())
	}
	online, err := s.owners.RuntimesOnline(ctx, rids)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := make([]EndpointView, 0, len(recs))
	for _, rec := range recs {
		ep := rec.GetEndpoint()
		out = append(out, EndpointView{ID: ep.GetId(), RuntimeID: rec.GetRuntimeId(), OrgID: rec.GetOrgId(), Name: ep.GetName(),
			Profile: ep.GetProfile(), Tags: ep.GetTags(), Caps: ep.GetCaps().AsMap(), Security: ep.GetSecurity().AsMap(),
			Online: online[rec.GetRuntimeId()]})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message})
}
