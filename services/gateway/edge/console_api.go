package edge

// REST calls added for the web console (services/gateway/console), kept
// apart from the rest of the REST API so they can move with it:
//
//	GET /v1/cluster                 (admin) gateway pods alive and their sockets by dialect
//	GET /v1/sessions/{id}/files     (client) files of one of the caller's sessions
//
// Both are documented in docs/protocol-notes.md ("Console").

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// ClusterView is the answer of GET /v1/cluster.
type ClusterView struct {
	// Pod is the gateway that answered.
	Pod  string    `json:"pod"`
	Pods []PodView `json:"pods"`
}

// PodView is one gateway pod with a fresh ownership heartbeat.
type PodView struct {
	Pod      string         `json:"pod"`
	Sockets  int            `json:"sockets"`
	Dialects map[string]int `json:"dialects"`
}

// SessionFileView is one entry of GET /v1/sessions/{id}/files.
type SessionFileView struct {
	FileView
	Origin    string `json:"origin"` // "upload" or "runtime"
	CreatedAt string `json:"created_at"`
}

func (s *Server) consoleAPIRoutes(mux *http.ServeMux) {
	admins, err := auth.ParseTable(s.cfg.AdminTokens)
	if err != nil {
		admins, _ = auth.ParseTable(nil) // fail closed, as adminRoutes does
	}
	admin := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := bearer(r)
			_, ok := admins.Lookup(tok)
			_, client := s.clients.Lookup(tok)
			switch {
			case ok:
				h(w, r)
			case client:
				writeError(w, http.StatusForbidden, errcode.Forbidden, "this call needs an admin token")
			default:
				writeError(w, http.StatusUnauthorized, errcode.AuthFailed, "missing or unknown admin token")
			}
		}
	}
	for _, prefix := range []string{"", "/v1"} {
		mux.HandleFunc("GET "+prefix+"/cluster", admin(s.cluster))
		mux.HandleFunc("GET "+prefix+"/sessions/{id}/files", s.authed(s.sessionFiles))
	}
}

// cluster lists the pods of the ownership records (fresh heartbeat) and
// counts each pod's sockets by dialect.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pods, err := s.owners.Pods(ctx, s.cfg.OwnerTTL)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := ClusterView{Pod: s.pod, Pods: make([]PodView, 0, len(pods))}
	for _, pod := range pods {
		conns, err := s.owners.Conns(ctx, pod)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
			return
		}
		pv := PodView{Pod: pod, Sockets: len(conns), Dialects: map[string]int{}}
		for _, info := range conns {
			dialect, _, _ := strings.Cut(info, " ")
			pv.Dialects[dialect]++
		}
		out.Pods = append(out.Pods, pv)
	}
	sort.Slice(out.Pods, func(a, b int) bool { return out.Pods[a].Pod < out.Pods[b].Pod })
	writeJSON(w, http.StatusOK, out)
}

// sessionFiles lists the stored files of a session of the caller
// (uploads and runtime files), oldest first. It reads the object store's
// whole listing: fine for a console, not for a hot path.
func (s *Server) sessionFiles(w http.ResponseWriter, r *http.Request, user string) {
	ctx := r.Context()
	sid := r.PathValue("id")
	info, _, err := s.cat.Session(ctx, sid)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, errcode.SessionNotFound, "no session "+sid)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	case info.GetUserId() != user:
		writeError(w, http.StatusForbidden, errcode.Forbidden, "session belongs to another user")
		return
	}
	obs, err := s.files(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	list, err := obs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		writeError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := []SessionFileView{}
	for _, o := range list {
		md := o.Metadata
		if o.Deleted || md[fileMetaSession] != sid {
			continue
		}
		out = append(out, SessionFileView{
			FileView:  FileView{FileID: o.Name, Name: md[fileMetaName], MimeType: md[fileMetaMime], Size: int64(o.Size), SessionID: sid},
			Origin:    md[fileMetaOrigin],
			CreatedAt: o.ModTime.UTC().Format(time.RFC3339Nano),
		})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt < out[b].CreatedAt })
	writeJSON(w, http.StatusOK, out)
}
