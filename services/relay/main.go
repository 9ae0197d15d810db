// Command sy-relay runs one replica of the relay (runtime-relay) service.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/relay/routing"
)

func main() {
	var cfg routing.Config
	if err := config.Load(&cfg, "sy-relay", os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := process.SignalContext()
	defer stop()
	if err := routing.Run(ctx, cfg, process.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "sy-relay:", err)
		os.Exit(1)
	}
}
