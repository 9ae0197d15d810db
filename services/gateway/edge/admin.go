package edge

import (
	"net/http"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Work in progress (issue 4, endpoint config and tokens).

func (s *Server) adminRoutes(mux *http.ServeMux) {}

func (s *Server) configAck(sk *socket, env *syv1.Envelope) {}
