// Command sy-relay runs one replica of the relay (runtime-relay) service.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/relay/routing"
)

func main() {
	if buildinfo.MaybeVersionCommand(os.Args) {
		return
	}
	var cfg routing.Config
	config.LoadOrExit(&cfg, "sy-relay", os.Args[1:])
	ctx, stop := process.SignalContext()
	defer stop()
	if err := routing.Run(ctx, cfg, process.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "sy-relay:", err)
		os.Exit(1)
	}
}
