// Command sy-devstack runs the whole hub in one process: embedded NATS
// JetStream, an embedded Redis-protocol server, and the gateway, session
// and relay services talking over NATS. With -nats-url and -redis-url it
// uses external servers instead.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard-hub/switchyard/pkg/buildinfo"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/devstack/stack"
)

func main() {
	if buildinfo.MaybeVersionCommand(os.Args) {
		return
	}
	var cfg stack.Config
	config.LoadOrExit(&cfg, "sy-devstack", os.Args[1:])
	ctx, stop := process.SignalContext()
	defer stop()
	st, err := stack.Start(ctx, cfg, process.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sy-devstack:", err)
		os.Exit(1)
	}
	st.PrintBanner(os.Stdout, cfg)
	select {
	case <-ctx.Done():
	case err := <-st.Err():
		fmt.Fprintln(os.Stderr, "sy-devstack:", err)
		st.Stop()
		os.Exit(1)
	}
	st.Stop()
}
