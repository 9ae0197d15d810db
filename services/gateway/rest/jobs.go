package rest

import (
	"context"
	"net/http"

	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/session/jobs"
)

// jobRoutes serves the scheduled-jobs API of the session service (admin
// token; also without /v1): POST /v1/jobs, GET /v1/jobs, DELETE
// /v1/jobs/{name} (docs/protocol-notes.md, "Scheduled jobs").
func jobRoutes(s *edge.Server) {
	admin := Admin(s)
	h := jobs.REST{Client: jobs.NewClient(s.Bus())}
	bound := func(f Handler) Handler {
		// A session replica answers at once or not at all: the request
		// timeout bounds the wait (503 unavailable after it).
		return func(w http.ResponseWriter, r *http.Request, principal string) {
			ctx, cancel := context.WithTimeout(r.Context(), s.Config().RequestTimeout)
			defer cancel()
			f(w, r.WithContext(ctx), principal)
		}
	}
	for _, prefix := range Prefixes {
		s.Handle("POST "+prefix+"/jobs", admin(bound(h.Create)))
		s.Handle("GET "+prefix+"/jobs", admin(bound(h.List)))
		s.Handle("DELETE "+prefix+"/jobs/{name}", admin(bound(h.Delete)))
	}
}
