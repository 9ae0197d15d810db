package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Every rendered value case decodes strictly (renderedCase fails otherwise),
// and object names and namespaces are valid.
func TestRenderedManifestsDecodeStrictly(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, o := range r.Objects {
				if seen[o.ID()] {
					t.Errorf("%s rendered twice", o.ID())
				}
				seen[o.ID()] = true
				if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
					t.Errorf("%s: invalid name: %v", o.ID(), errs)
				}
				if o.Kind == "Service" || o.Kind == "Deployment" {
					if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
						t.Errorf("%s: name must be a DNS-1123 label: %v", o.ID(), errs)
					}
				}
				// The Grafana dashboard may go to Grafana's namespace (metrics.grafanaDashboard.namespace).
				dashboardNS := o.Kind == "ConfigMap" && strings.HasSuffix(o.Name, "-dashboard") && o.Namespace != ""
				if o.Namespace != namespace && !dashboardNS {
					t.Errorf("%s: metadata.namespace = %q, want the release namespace %q", o.ID(), o.Namespace, namespace)
				}
			}
		})
	}
}

// The strict decoder must catch what a lenient one would silently drop.
func TestStrictDecodeRejectsBadFields(t *testing.T) {
	var gateway []byte
	for _, o := range caseNamed(t, "default").Objects {
		if o.Kind == "Deployment" && strings.HasSuffix(o.Name, "-gateway") {
			gateway = o.Raw
		}
	}
	if gateway == nil {
		t.Fatal("no gateway Deployment in the default rendering")
	}
	if _, err := DecodeStrict(gateway); err != nil {
		t.Fatalf("the unmodified gateway Deployment must decode: %v", err)
	}

	mutations := []struct {
		name, old, new, wantErr string
	}{
		{"misspelled probe field", "readinessProbe:", "readynessProbe:", `unknown field "readynessProbe"`},
		{"misspelled port field", "containerPort:", "containerPrt:", `unknown field "containerPrt"`},
		{"misspelled top-level spec field", "revisionHistoryLimit:", "revisionHistoryLimt:", `unknown field "revisionHistoryLimt"`},
		{"wrong type", "revisionHistoryLimit: 5", "revisionHistoryLimit: five", "cannot unmarshal"},
		{"duplicate key", "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  revisionHistoryLimit: 6", "already set"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if !strings.Contains(string(gateway), m.old) {
				t.Fatalf("rendered gateway Deployment has no %q to mutate", m.old)
			}
			bad := []byte(strings.Replace(string(gateway), m.old, m.new, 1))
			_, err := DecodeStrict(bad)
			if err == nil {
				t.Fatalf("strict decode accepted %s", m.name)
			}
			if !strings.Contains(err.Error(), m.wantErr) {
				t.Fatalf("error %q does not mention %q", err, m.wantErr)
			}
			if m.name == "misspelled probe field" {
				// A lenient decode loses the probe without a word: this is what strictness buys.
				var d appsv1.Deployment
				if err := yaml.Unmarshal(bad, &d); err != nil {
					t.Fatalf("lenient decode: %v", err)
				}
				if d.Spec.Template.Spec.Containers[0].ReadinessProbe != nil {
					t.Fatal("expected the lenient decode to drop the misspelled probe")
				}
			}
		})
	}

	t.Run("unknown kind", func(t *testing.T) {
		_, err := DecodeStrict([]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n"))
		if err == nil || !strings.Contains(err.Error(), "no typed decoder") {
			t.Fatalf("want a no-typed-decoder error, got %v", err)
		}
	})
	t.Run("split keeps documents apart", func(t *testing.T) {
		docs := SplitDocuments([]byte("---\n# only a comment\n---\na: 1\n---\n\n---\nb: 2\n"))
		if len(docs) != 2 {
			t.Fatalf("got %d documents, want 2", len(docs))
		}
	})
}

// k8s/dev manifests (Jaeger, NATS, Redis for the local loop) decode strictly too.
func TestDevManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "k8s", "dev", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no k8s/dev/*.yaml (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := DecodeManifests(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			if o.Namespace != "" {
				t.Errorf("%s %s: no namespace in dev manifests (Tilt deploys into the current one)", f, o.ID())
			}
			for _, c := range containersOf(o) {
				checkContainerBasics(t, f+" "+o.ID(), c)
			}
		}
	}
}

func devManifests(t *testing.T) []Object {
	t.Helper()
	var out []Object
	files, _ := filepath.Glob(filepath.Join(repoRoot, "k8s", "dev", "*.yaml"))
	for _, f := range files {
		objs, err := DecodeManifests(readRepoFile(t, filepath.Join("k8s", "dev", filepath.Base(f))))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}
