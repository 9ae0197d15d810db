// Package services_test checks what every service binary shares: a
// version subcommand, and configuration errors that name the setting.
package services_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var mains = map[string]string{"sy-gateway": "./gateway", "sy-session": "./session", "sy-relay": "./relay", "sy-upload": "./upload", "sy-devstack": "./devstack"}

func build(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, mains[name]).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}

// TestEveryMainHasVersionAndSpeakingConfig: `<binary> version` prints the
// build, and a bad setting exits 2 with a message naming it (never a
// silent exit or a connection attempt).
func TestEveryMainHasVersionAndSpeakingConfig(t *testing.T) {
	for name := range mains {
		t.Run(name, func(t *testing.T) {
			bin := build(t, name)
			out, err := exec.Command(bin, "version").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), name+" version ") || !strings.Contains(string(out), " revision ") {
				t.Fatalf("%s version: %v %q", name, err, out)
			}
			cmd := exec.Command(bin)
			cmd.Env = append(cmd.Environ(), "SY_LOG_LEVEL=verbose")
			out, err = cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "SY_LOG_LEVEL") {
				t.Fatalf("%s with SY_LOG_LEVEL=verbose: %v %q; want exit 2 naming SY_LOG_LEVEL", name, err, out)
			}
		})
	}
}

// TestGatewayNamesBadSettings: the gateway's own rules speak too.
func TestGatewayNamesBadSettings(t *testing.T) {
	bin := build(t, "sy-gateway")
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "SY_PING_PERIOD=20s", "SY_PONG_WAIT=10s", "SY_TRACE_OUTPUT_RATIO=2", "SY_ALLOWED_ORIGINS=example.com")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2: %s", err, out)
	}
	for _, want := range []string{`SY_PONG_WAIT (-pong-wait) = 10s: must exceed SY_PING_PERIOD (-ping-period) (20s)`,
		"SY_TRACE_OUTPUT_RATIO (-trace-output-ratio) = 2: want a share 0..1", `SY_ALLOWED_ORIGINS (-allowed-origins) = "example.com"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
