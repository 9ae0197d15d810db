// Package buildinfo says which build of Switchyard is running: version,
// VCS revision and Go version, read from the binary's embedded build
// information (runtime/debug.ReadBuildInfo) unless a release build sets
// them with -ldflags:
//
//	go build -ldflags "-X github.com/switchyard-hub/switchyard/pkg/buildinfo.Version=v0.3.0 \
//	  -X github.com/switchyard-hub/switchyard/pkg/buildinfo.Revision=$(git rev-parse HEAD)"
//
// It serves the switchyard_build_info metric and the `version` subcommand.
package buildinfo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version and Revision, when set by -ldflags -X, win over the build
// information Go embeds.
var (
	Version  string
	Revision string
)

// Info is one build's identity.
type Info struct {
	Version   string // module version ("v0.3.0"), or "devel" for a local build
	Revision  string // VCS commit, "+dirty" appended when built from a modified tree; "unknown" when absent
	GoVersion string // e.g. go1.26.8
}

// Get reads the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, Version, Revision)
}

func fromBuildInfo(bi *debug.BuildInfo, version, revision string) Info {
	in := Info{Version: "devel", Revision: "unknown", GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = v
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			in.Revision = rev + dirty
		}
	}
	if version != "" {
		in.Version = version
	}
	if revision != "" {
		in.Revision = revision
	}
	return in
}

// String is the one line `version` prints.
func (in Info) String() string {
	return fmt.Sprintf("version %s revision %s %s", in.Version, in.Revision, in.GoVersion)
}

// Collector is the switchyard_build_info gauge: always 1, the build in
// its labels, so dashboards can join any series with the build it came
// from and see a rollout progress.
func Collector() prometheus.Collector {
	in := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "switchyard_build_info",
		Help:        "Build of the running binary (value is always 1).",
		ConstLabels: prometheus.Labels{"version": in.Version, "revision": in.Revision, "go_version": in.GoVersion},
	})
	g.Set(1)
	return g
}

// MaybeVersionCommand handles `<binary> version` (also -version and
// --version): it prints the build and returns true, and the main returns.
//
//	func main() {
//		if buildinfo.MaybeVersionCommand(os.Args) {
//			return
//		}
//		...
func MaybeVersionCommand(args []string) bool {
	return versionCommand(args, os.Stdout)
}

func versionCommand(args []string, w io.Writer) bool {
	if len(args) < 2 {
		return false
	}
	switch args[1] {
	case "version", "-version", "--version":
		fmt.Fprintf(w, "%s %s\n", filepath.Base(args[0]), Get())
		return true
	}
	return false
}
