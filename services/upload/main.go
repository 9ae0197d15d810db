// Command sy-upload runs one replica of the upload service.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/upload/uploads"
)

func main() {
	if buildinfo.MaybeVersionCommand(os.Args) {
		return
	}
	var cfg uploads.Config
	config.LoadOrExit(&cfg, "sy-upload", os.Args[1:])
	ctx, stop := process.SignalContext()
	defer stop()
	if err := uploads.Run(ctx, cfg, process.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "sy-upload:", err)
		os.Exit(1)
	}
}
