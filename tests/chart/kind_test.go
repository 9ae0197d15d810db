package chart

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// kindCluster strictly decodes k8s/kind.yaml into kind's own v1alpha4 types.
func kindCluster(t *testing.T) *v1alpha4.Cluster {
	t.Helper()
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(readRepoFile(t, "k8s/kind.yaml"), &c); err != nil {
		t.Fatalf("k8s/kind.yaml: %v", err)
	}
	return &c
}

func TestKindConfig(t *testing.T) {
	c := kindCluster(t)
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Fatalf("k8s/kind.yaml is %s %s, want kind.x-k8s.io/v1alpha4 Cluster", c.APIVersion, c.Kind)
	}
	// The Tiltfile switches port forwards off on this context.
	if c.Name != "switchyard" || !strings.Contains(string(readRepoFile(t, "Tiltfile")), "'kind-"+c.Name+"'") {
		t.Errorf("cluster name %q must match KIND_CONTEXT kind-%s in the Tiltfile", c.Name, c.Name)
	}
	if len(c.Nodes) == 0 {
		t.Fatal("no nodes")
	}
	hostPorts := map[int32]bool{}
	for _, n := range c.Nodes {
		for _, m := range n.ExtraPortMappings {
			if m.ListenAddress != "127.0.0.1" {
				t.Errorf("hostPort %d listens on %q: keep dev ports on 127.0.0.1", m.HostPort, m.ListenAddress)
			}
			if m.ContainerPort < 30000 || m.ContainerPort > 32767 {
				t.Errorf("hostPort %d -> %d is not a NodePort", m.HostPort, m.ContainerPort)
			}
			hostPorts[m.HostPort] = true
		}
	}
	for _, p := range []int32{8080, 16686} {
		if !hostPorts[p] {
			t.Errorf("no extraPortMapping for host port %d", p)
		}
	}
	// containerd patches are TOML and point containerd at hosts.toml files,
	// which k8s/kind-registry.sh writes for localhost:5001.
	if len(c.ContainerdConfigPatches) == 0 {
		t.Fatal("no containerdConfigPatches for the local registry")
	}
	var sawConfigPath bool
	for _, p := range c.ContainerdConfigPatches {
		var m map[string]any
		if _, err := toml.Decode(p, &m); err != nil {
			t.Fatalf("containerdConfigPatches entry is not TOML: %v\n%s", err, p)
		}
		reg := lookup(m, "plugins")
		if pm, ok := reg.(map[string]any); ok {
			if cri, ok := pm["io.containerd.grpc.v1.cri"].(map[string]any); ok {
				if r, ok := cri["registry"].(map[string]any); ok && r["config_path"] == "/etc/containerd/certs.d" {
					sawConfigPath = true
				}
			}
		}
	}
	if !sawConfigPath {
		t.Error(`containerdConfigPatches must set [plugins."io.containerd.grpc.v1.cri".registry] config_path = "/etc/containerd/certs.d"`)
	}
	script := string(readRepoFile(t, "k8s/kind-registry.sh"))
	for _, want := range []string{"REG_PORT=${REG_PORT:-5001}", "/etc/containerd/certs.d/localhost:${REG_PORT}", "local-registry-hosting", "CLUSTER=${CLUSTER:-" + c.Name + "}"} {
		if !strings.Contains(script, want) {
			t.Errorf("k8s/kind-registry.sh lacks %q", want)
		}
	}
}
