package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleRuntimeAndTerminalClient runs the README's second and third
// command lines against the dev stack: the example shell runtime and the
// terminal client, with a scripted line of input.
func TestExampleRuntimeAndTerminalClient(t *testing.T) {
	h := startHub(t, hubOptions{})
	dir := t.TempDir()
	for _, p := range []string{"shellruntime", "termclient"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, p), "../../services/examples/"+p).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", p, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := exec.CommandContext(ctx, filepath.Join(dir, "shellruntime"), "-hub", h.ws(0, "/ws/runtime"), "-token", runtimeToken, "-endpoint", "shell")
	var rtLog bytes.Buffer
	rt.Stdout, rt.Stderr = &rtLog, &rtLog
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rt.Process.Kill(); _ = rt.Wait() }()
	waitFor(t, "example runtime online", func() bool {
		_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		eps := decodeList(t, raw)
		return len(eps) == 1 && eps[0]["online"] == true
	})

	cl := exec.CommandContext(ctx, filepath.Join(dir, "termclient"), "-hub", h.gateways[0], "-token", clientToken, "-endpoint", "shell")
	cl.Stdin = strings.NewReader("echo switchyard-$((40+2)); exit 3\n")
	var stdout, stderr bytes.Buffer
	cl.Stdout, cl.Stderr = &stdout, &stderr
	if err := cl.Run(); err != nil {
		t.Fatalf("termclient: %v\nstdout: %s\nstderr: %s\nruntime: %s", err, stdout.String(), stderr.String(), rtLog.String())
	}
	if !strings.Contains(stdout.String(), "switchyard-42") {
		t.Fatalf("output not streamed to the terminal: %q (stderr %q)", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "exit 3") {
		t.Fatalf("turn.completed exit code not shown: %q", stderr.String())
	}
}
