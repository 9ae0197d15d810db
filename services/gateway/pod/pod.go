// Package pod assembles one gateway pod: the dialect-agnostic core (edge)
// with the rooms it serves — the runtime/client dialect, REST and admin,
// files. The gateway's main, the dev stack and the tests build the same
// pod from here; a new dialect is one more line in Rooms.
package pod

import (
	"context"

	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/gateway/console"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/amurg"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/chat"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/device"
	"github.com/switchyard-hub/switchyard/services/gateway/dialect/push"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/files"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// Rooms are the parts registered on the core, in order.
func Rooms() []edge.Room {
	return []edge.Room{amurg.Register, device.Register, rest.Register, files.Register, push.Register, chat.Register, serveConsole}
}

// serveConsole serves the web console's static files at /console/.
func serveConsole(s *edge.Server) error {
	s.Handle("/console/", console.Handler().ServeHTTP)
	return nil
}

// Run runs one gateway pod until ctx ends (see edge.Run).
func Run(ctx context.Context, cfg edge.Config, o process.Options, started func(*edge.Server)) error {
	return edge.Run(ctx, cfg, o, started, Rooms()...)
}
