package chart

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	df := string(readRepoFile(t, "Dockerfile"))
	for _, want := range []string{
		"FROM golang:1.26-bookworm AS build",
		"ARG SERVICE",
		"CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/sy-${SERVICE} ./services/${SERVICE}",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"COPY --from=build /out/service /app/service",
		"USER 65532:65532",
		`ENTRYPOINT ["/app/service"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The builder's Go matches the module's go directive (major.minor).
	gomod := string(readRepoFile(t, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil || !strings.Contains(df, "golang:"+m[1]+"-") {
		t.Errorf("Dockerfile builder image does not match go.mod's go %v", m)
	}
	// The build context keeps what go build needs.
	ignore := strings.Split(string(readRepoFile(t, ".dockerignore")), "\n")
	for _, keep := range []string{"go.mod", "go.sum", "services", "services/", "pkg", "pkg/", "proto", "proto/", "*.go", "**/*.go"} {
		if slices.Contains(ignore, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
	if !slices.Contains(ignore, ".tilt-bin") {
		t.Error(".dockerignore should exclude .tilt-bin (Tilt's host binaries)")
	}
}

// tilt/images.mk builds one switchyard/<svc>:$(TAG) per chart service.
func TestImagesMakefile(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is required for this check")
	}
	cmd := exec.Command(mk, "--no-print-directory", "-n", "-f", "tilt/images.mk", "images", "TAG=t123")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n images: %v\n%s", err, out)
	}
	var got []string
	re := regexp.MustCompile(`^docker build .*--build-arg SERVICE=(\S+) -t (\S+) \.$`)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := re.FindStringSubmatch(strings.Join(strings.Fields(line), " "))
		if m == nil {
			t.Errorf("unexpected line %q", line)
			continue
		}
		if m[2] != "switchyard/"+m[1]+":t123" {
			t.Errorf("SERVICE=%s tagged %s, want switchyard/%s:t123", m[1], m[2], m[1])
		}
		got = append(got, m[1])
	}
	var want []string
	for name, svc := range defaultValues(t)["services"].(map[string]any) {
		if svc.(map[string]any)["enabled"] == true {
			want = append(want, name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("images.mk builds %v, the chart runs %v", got, want)
	}
	cmd = exec.Command(mk, "--no-print-directory", "-n", "-f", "tilt/images.mk", "push-images", "IMAGE_REGISTRY=localhost:5001", "TAG=t1")
	cmd.Dir = repoRoot
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "docker push localhost:5001/switchyard/gateway:t1") {
		t.Errorf("make -n push-images: %v\n%s", err, out)
	}
}
