// Package chart checks charts/switchyard, k8s/, tilt/, the Tiltfile and the
// Dockerfile offline: no cluster, no Docker. scripts/chart-check.sh renders the
// chart with helm and passes the output here:
//
//	SY_CHART_RENDERED  dir with <case>.yaml per values set (default, examples/*, ci/*)
//	SY_HELM            helm binary (schema rejection tests run it)
//	SY_KUBE_VERSION    --kube-version used for rendering
//	SY_RELEASE         release name used for rendering (default "switchyard")
//	SY_NAMESPACE       namespace used for rendering (default "switchyard")
//
// Run without SY_CHART_RENDERED, the tests render the chart themselves with
// SY_HELM, $HOME/.cache/switchyard/bin/helm or helm on PATH, and fail if none.
package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	repoRoot    string
	chartDir    string
	helmBin     string
	kubeVersion = envOr("SY_KUBE_VERSION", "1.30.0")
	releaseName = envOr("SY_RELEASE", "switchyard")
	namespace   = envOr("SY_NAMESPACE", "switchyard")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	repoRoot = root
	chartDir = filepath.Join(root, "charts", "switchyard")
	if _, err := os.Stat(filepath.Join(chartDir, "Chart.yaml")); err != nil {
		fmt.Fprintf(os.Stderr, "charts/switchyard/Chart.yaml not found from %s: %v\n", root, err)
		os.Exit(2)
	}
	helmBin = findHelm()
	os.Exit(m.Run())
}

func findHelm() string {
	if h := os.Getenv("SY_HELM"); h != "" {
		return h
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "switchyard", "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	return ""
}

// requireHelm fails (never skips) when no helm binary is available.
func requireHelm(t *testing.T) string {
	t.Helper()
	if helmBin == "" {
		t.Fatal("no helm binary: run scripts/chart-check.sh (it installs the pinned helm) or set SY_HELM")
	}
	return helmBin
}

// valueCase is one set of values the chart is rendered with.
type valueCase struct {
	Name       string // default, dev, production, all-features, ...
	ValuesFile string // absolute path, "" for the chart defaults
}

// valueCases lists default + examples/*.yaml + ci/*.yaml, like chart-check.sh.
func valueCases(t *testing.T) []valueCase {
	t.Helper()
	cases := []valueCase{{Name: "default"}}
	for _, dir := range []string{"examples", "ci"} {
		files, err := filepath.Glob(filepath.Join(chartDir, dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		for _, f := range files {
			cases = append(cases, valueCase{Name: strings.TrimSuffix(filepath.Base(f), ".yaml"), ValuesFile: f})
		}
	}
	return cases
}

// helmTemplate runs helm template for the chart with extra args.
func helmTemplate(t *testing.T, args ...string) ([]byte, []byte, error) {
	t.Helper()
	h := requireHelm(t)
	full := append([]string{"template", releaseName, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}, args...)
	cmd := exec.Command(h, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

var (
	renderOnce sync.Once
	renderDir  string
	renderErr  error
)

// renderedDir returns the dir with <case>.yaml files, rendering them if
// SY_CHART_RENDERED is not set.
func renderedDir(t *testing.T) string {
	t.Helper()
	renderOnce.Do(func() {
		if d := os.Getenv("SY_CHART_RENDERED"); d != "" {
			renderDir = d
			return
		}
		if helmBin == "" {
			renderErr = fmt.Errorf("SY_CHART_RENDERED is not set and no helm binary was found: run scripts/chart-check.sh")
			return
		}
		d, err := os.MkdirTemp("", "switchyard-chart-test")
		if err != nil {
			renderErr = err
			return
		}
		for _, c := range valueCases(t) {
			var args []string
			if c.ValuesFile != "" {
				args = []string{"-f", c.ValuesFile}
			}
			out, stderr, err := helmTemplate(t, args...)
			if err != nil {
				renderErr = fmt.Errorf("helm template %s: %v\n%s", c.Name, err, stderr)
				return
			}
			if err := os.WriteFile(filepath.Join(d, c.Name+".yaml"), out, 0o644); err != nil {
				renderErr = err
				return
			}
		}
		renderDir = d
	})
	if renderErr != nil {
		t.Fatal(renderErr)
	}
	return renderDir
}

// rendered is one value case rendered and strictly decoded.
type rendered struct {
	valueCase
	Objects []Object
}

var (
	loadMu sync.Mutex
	loaded = map[string]*rendered{}
)

// renderedCase loads and strictly decodes the rendering of one value case.
func renderedCase(t *testing.T, c valueCase) *rendered {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if r, ok := loaded[c.Name]; ok {
		return r
	}
	path := filepath.Join(renderedDir(t), c.Name+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("rendered output for value case %q: %v (chart-check.sh and valueCases must agree)", c.Name, err)
	}
	objs, err := DecodeManifests(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects rendered", path)
	}
	r := &rendered{valueCase: c, Objects: objs}
	loaded[c.Name] = r
	return r
}

// allCases returns every value case rendered and decoded.
func allCases(t *testing.T) []*rendered {
	t.Helper()
	var out []*rendered
	for _, c := range valueCases(t) {
		out = append(out, renderedCase(t, c))
	}
	return out
}

func caseNamed(t *testing.T, name string) *rendered {
	t.Helper()
	for _, c := range valueCases(t) {
		if c.Name == name {
			return renderedCase(t, c)
		}
	}
	t.Fatalf("no value case %q", name)
	return nil
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAbs(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
