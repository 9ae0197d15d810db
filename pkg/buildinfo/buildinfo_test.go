package buildinfo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	if got := fromBuildInfo(bi, "", ""); got != (Info{"v1.2.3", "abc123+dirty", "go1.99.1"}) {
		t.Errorf("from build info: %+v", got)
	}
	if got := fromBuildInfo(bi, "v2.0.0", "feed"); got.Version != "v2.0.0" || got.Revision != "feed" {
		t.Errorf("ldflags override: %+v", got)
	}
	dev := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	if got := fromBuildInfo(dev, "", ""); got != (Info{"devel", "unknown", runtime.Version()}) {
		t.Errorf("devel build: %+v", got)
	}
	if got := fromBuildInfo(nil, "", ""); got.Version != "devel" {
		t.Errorf("no build info: %+v", got)
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "switchyard_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v %v", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	in := Get()
	if m.GetGauge().GetValue() != 1 || labels["version"] != in.Version || labels["revision"] != in.Revision ||
		labels["go_version"] != in.GoVersion || len(labels) != 3 {
		t.Errorf("switchyard_build_info = %v %v, want 1 %+v", m.GetGauge().GetValue(), labels, in)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"/usr/bin/sy-gateway", "version"}, {"sy-gateway", "--version"}, {"sy-gateway", "-version"}} {
		var out bytes.Buffer
		if !versionCommand(args, &out) {
			t.Errorf("%v not handled", args)
		}
		if !strings.HasPrefix(out.String(), "sy-gateway version ") || !strings.Contains(out.String(), runtime.Version()) {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	for _, args := range [][]string{{"sy-gateway"}, {"sy-gateway", "probe"}, {"sy-gateway", "-listen", "version"}} {
		if versionCommand(args, &bytes.Buffer{}) {
			t.Errorf("%v taken for the version command", args)
		}
	}
}

// A binary built with -ldflags -X reports those values.
func TestLdflagsOverride(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary: skipped with -short")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	src := "package main\nimport (\"os\"; \"github.com/switchyard-hub/switchyard/pkg/buildinfo\")\nfunc main() { buildinfo.MaybeVersionCommand(os.Args) }\n"
	if err := os.WriteFile(main, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sy-x")
	pkg := "github.com/switchyard-hub/switchyard/pkg/buildinfo"
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X "+pkg+".Version=v9.8.7 -X "+pkg+".Revision=cafe", main)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "sy-x version v9.8.7 revision cafe go") {
		t.Errorf("version output %q", out)
	}
}
