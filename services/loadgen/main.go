// Command sy-loadgen drives a Switchyard hub with simulated runtimes,
// subscribed clients and idle client sockets over the runtime/client
// WebSocket dialect (document 003), and reports ingest and delivery rates,
// end-to-end latency, connect rate, memory per idle socket, hub CPU per
// 10k frames/s and drops.
//
//	sy-loadgen [run] -gateways http://127.0.0.1:8080 [flags]   a bounded load run
//	sy-loadgen upload -gateway http://127.0.0.1:8080 -size 1GiB -chunk 1MiB -parallel 8   device upload MiB/s and RSS
//	sy-loadgen idle-worker [flags]                             child process holding idle sockets (started by run -procs)
//	sy-loadgen plot -out latency.png FILE.json[+MORE.json][=label] ...  latency percentiles vs offered load, as a PNG
//	sy-loadgen table FILE.json[=label] ...                     results as a Markdown table
//
// Every run is bounded: each phase has a time limit and a hard deadline
// (-deadline) ends the process, and its children, whatever happens.
// Only loopback targets are allowed.
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runMain(args)
	case "upload":
		err = uploadMain(args)
	case "idle-worker":
		err = idleWorkerMain(args)
	case "plot":
		err = plotMain(args)
	case "table":
		err = tableMain(args)
	default:
		err = fmt.Errorf("unknown command %q (run, upload, idle-worker, plot, table)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sy-loadgen:", err)
		os.Exit(1)
	}
}
