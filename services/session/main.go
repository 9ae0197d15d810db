// Command sy-session runs one replica of the session service.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/session/sessions"
)

func main() {
	if buildinfo.MaybeVersionCommand(os.Args) {
		return
	}
	var cfg sessions.Config
	config.LoadOrExit(&cfg, "sy-session", os.Args[1:])
	ctx, stop := process.SignalContext()
	defer stop()
	if err := sessions.Run(ctx, cfg, process.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "sy-session:", err)
		os.Exit(1)
	}
}
