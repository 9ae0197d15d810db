// Command sy-gateway runs one gateway pod (edge WebSocket server).
//
//	sy-gateway [flags]              serve (the core with the rooms of package pod)
//	sy-gateway probe -url WS_URL    connect, ping, expect pong (helm test)
//	sy-gateway version              print the build
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/pod"
)

func main() {
	if buildinfo.MaybeVersionCommand(os.Args) {
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probe(os.Args[2:]))
	}
	var cfg edge.Config
	config.LoadOrExit(&cfg, "sy-gateway", os.Args[1:])
	ctx, stop := process.SignalContext()
	defer stop()
	// The dialects, REST and files are registered on the core here.
	if err := edge.Run(ctx, cfg, process.Options{}, nil, pod.Rooms()...); err != nil {
		fmt.Fprintln(os.Stderr, "sy-gateway:", err)
		os.Exit(1)
	}
}
