package edge

import (
	"context"
	"net/http"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Work in progress (issue 4, files): the hooks exist so the rest of the
// gateway is wired; until they are filled in, files pass through unchanged.

func (s *Server) fileRoutes(mux *http.ServeMux) {}

func (s *Server) storeAvailableFile(sk *socket, env *syv1.Envelope) { s.ingest(sk, env) }

func (s *Server) attachFile(ctx context.Context, env *syv1.Envelope) error { return nil }
