// Package docs keeps the documentation true: every error code, metric and
// configuration setting in the code appears in docs/.
package docs

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	"github.com/switchyard-hub/switchyard/services/devstack/stack"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/relay/routing"
	"github.com/switchyard-hub/switchyard/services/session/sessions"
	"github.com/switchyard-hub/switchyard/services/upload/uploads"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEveryErrorCodeIsDocumented(t *testing.T) {
	doc := read(t, "../../docs/errors.md")
	for _, code := range errcode.All {
		if !strings.Contains(doc, "| `"+code+"` |") {
			t.Errorf("docs/errors.md does not document %q", code)
		}
	}
	for _, reason := range upload.Reasons {
		if !strings.Contains(doc, "| `"+reason+"` |") {
			t.Errorf("docs/errors.md does not document upload reason %q", reason)
		}
	}
}

func TestEveryMetricIsDocumented(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "grep", "-h", "-o", `Name: *"switchyard_[a-z_]*"`, "--", "*.go").Output()
	if err != nil {
		t.Fatalf("git grep: %v", err)
	}
	doc := read(t, "../../docs/metrics.md")
	names := regexp.MustCompile(`switchyard_[a-z_]+`).FindAllString(string(out), -1)
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in the code", len(names))
	}
	for _, n := range names {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/metrics.md does not document %s", n)
		}
	}
}

// TestConfigurationDoc: docs/configuration.md is generated from the
// config structs; UPDATE_DOCS=1 rewrites it.
func TestConfigurationDoc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("# Configuration\n\nEvery setting is a flag and an `SY_*` environment variable (flag wins over\nenvironment, environment over default). Generated from the config structs by\n`UPDATE_DOCS=1 go test ./tests/docs`.\n")
	for _, s := range []struct {
		title string
		cfg   any
	}{
		{"Gateway (`sy-gateway`)", &edge.Config{}},
		{"Session service (`sy-session`)", &sessions.Config{}},
		{"Relay service (`sy-relay`)", &routing.Config{}},
		{"Upload service (`sy-upload`)", &uploads.Config{}},
		{"Dev stack (`sy-devstack`)", &stack.Config{}},
	} {
		b.WriteString("\n## " + s.title + "\n\n")
		config.Describe(&b, s.cfg)
	}
	path := "../../docs/configuration.md"
	// Prose after the marker is written by hand and kept as it is.
	const marker = "\n<!-- Written by hand below this line; the tables above are generated. -->\n"
	if cur, err := os.ReadFile(path); err == nil {
		if i := strings.Index(string(cur), marker); i >= 0 {
			b.WriteString(string(cur[i:]))
		}
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if read(t, path) != b.String() {
		t.Fatalf("docs/configuration.md is stale: run UPDATE_DOCS=1 go test ./tests/docs")
	}
}
