// Package rest is the gateway's REST API (sessions, endpoints) and admin
// API (endpoint config overrides, runtime tokens), served beside the
// sockets on the core's listener.
package rest

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
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// Prefixes: every route is served under the document's paths (/sessions,
// /endpoints) and the same under /v1/.
var Prefixes = []string{"", "/v1"}

// api is the REST API on one gateway.
type api struct {
	s *edge.Server
}

// Register serves the REST and admin APIs on s (an edge.Room).
func Register(s *edge.Server) error {
	a := &api{s: s}
	for _, prefix := range Prefixes {
		s.Handle("POST "+prefix+"/sessions", Authed(s, a.createSession))
		s.Handle("GET "+prefix+"/sessions", Authed(s, a.listSessions))
		s.Handle("GET "+prefix+"/sessions/{id}", Authed(s, a.getSession))
		s.Handle("GET "+prefix+"/endpoints", Authed(s, a.listEndpoints))
	}
	a.adminRoutes()
	jobRoutes(s)
	return nil
}

// Handler is a REST handler of an authenticated user.
type Handler func(w http.ResponseWriter, r *http.Request, user string)

// Authed checks the client token of a REST call (static or JWT:
// edge.Server.Authenticate).
func Authed(s *edge.Server, h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.Authenticate(r)
		if !ok {
			WriteError(w, http.StatusUnauthorized, errcode.AuthFailed, "missing, unknown or expired client token")
			return
		}
		h(w, r, p.User)
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
	// Protocol is the revision of the runtime's last hello ("endpoints",
	// "agents"); the config fields are the admin override's state
	// (overrides.go).
	Protocol string `json:"protocol,omitempty"`
	endpointConfigView
}

func (a *api) createSession(w http.ResponseWriter, r *http.Request, user string) {
	ctx, span := a.s.Tracer().Start(r.Context(), "gateway.POST /sessions", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	var body struct {
		EndpointID string `json:"endpoint_id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.EndpointID == "" {
		WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be JSON with an endpoint_id")
		return
	}
	span.SetAttributes(attribute.String("sy.endpoint_id", body.EndpointID))
	rctx, cancel := context.WithTimeout(ctx, a.s.Config().RequestTimeout+a.s.Config().RequestTimeout/10)
	defer cancel()
	req := &syv1.Envelope{Type: kind.CreateSession, UserId: user, EndpointId: body.EndpointID,
		Body: &syv1.Envelope_CreateSessionRequest{CreateSessionRequest: &syv1.CreateSessionRequest{EndpointId: body.EndpointID, UserId: user}}}
	reply, err := a.s.Bus().Request(rctx, bus.SubjSessionCreate(), req)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, "the session service did not answer: "+err.Error())
		return
	}
	cr := reply.GetCreateSessionReply()
	if e := cr.GetError(); e != nil {
		WriteError(w, int(cr.GetStatus()), e.GetCode(), e.GetMessage())
		return
	}
	WriteJSON(w, http.StatusCreated, sessionView(cr.GetSession()))
}

func (a *api) listSessions(w http.ResponseWriter, r *http.Request, user string) {
	all, err := a.s.Catalog().Sessions(r.Context())
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := []SessionView{}
	for _, i := range all {
		if i.GetUserId() == user {
			out = append(out, sessionView(i))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt < out[b].CreatedAt })
	WriteJSON(w, http.StatusOK, out)
}

func (a *api) getSession(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	info, _, err := a.s.Catalog().Session(ctx, r.PathValue("id"))
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		WriteError(w, http.StatusNotFound, errcode.SessionNotFound, "no session "+r.PathValue("id"))
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	case info.GetUserId() != user:
		WriteError(w, http.StatusForbidden, errcode.Forbidden, "session belongs to another user")
		return
	}
	v := sessionView(info)
	// Presence as GET /endpoints sees it (the ownership record), so the two
	// views agree even before the session service has swept a runtime whose
	// gateway died; the record's flag when Redis cannot say.
	if online, err := a.s.Owners().RuntimesOnline(ctx, []string{info.GetRuntimeId()}); err == nil && info.GetStatus() != catalog.StatusClosed {
		v.RuntimeOnline = online[info.GetRuntimeId()]
	}
	if end, err := a.s.Transcripts().Last(ctx, info.GetId()); err == nil {
		v.LastSeq = &end.Seq
	}
	if subs, err := a.s.Owners().Subscribers(ctx, info.GetId(), a.s.Config().OwnerTTL); err == nil {
		n := 0
		for _, c := range subs {
			n += len(c)
		}
		v.Subscribers = &n
	}
	WriteJSON(w, http.StatusOK, v)
}

func (a *api) listEndpoints(w http.ResponseWriter, r *http.Request, _ string) {
	ctx := r.Context()
	recs, err := a.s.Catalog().Endpoints(ctx)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	rids := make([]string, 0, len(recs))
	for _, rec := range recs {
		rids = append(rids, rec.GetRuntimeId())
	}
	online, err := a.s.Owners().RuntimesOnline(ctx, rids)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := make([]EndpointView, 0, len(recs))
	for _, rec := range recs {
		ep := rec.GetEndpoint()
		out = append(out, EndpointView{ID: ep.GetId(), RuntimeID: rec.GetRuntimeId(), OrgID: rec.GetOrgId(), Name: ep.GetName(),
			Profile: ep.GetProfile(), Tags: ep.GetTags(), Caps: ep.GetCaps().AsMap(), Security: ep.GetSecurity().AsMap(),
			Online: online[rec.GetRuntimeId()], Protocol: rec.GetRevision(), endpointConfigView: configViewOf(rec)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	WriteJSON(w, http.StatusOK, out)
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers with {"code","message"}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, map[string]string{"code": code, "message": message})
}
