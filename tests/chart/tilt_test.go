package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The Tiltfile is executed in a Starlark interpreter with recording stubs of the
// Tilt builtins it uses. The stubs check parameter names against Tilt's API, so
// a typo (port_forward= for port_forwards=) fails here instead of at `tilt up`.

// tiltParams: Tilt builtin -> parameter names (positional order), first
// `required` of them mandatory.
var tiltParams = map[string]struct {
	params   []string
	required int
}{
	"local_resource": {[]string{"name", "cmd", "deps", "trigger_mode", "resource_deps", "ignore", "auto_init", "serve_cmd",
		"cmd_bat", "serve_cmd_bat", "allow_parallel", "links", "tags", "env", "serve_env", "readiness_probe", "dir", "serve_dir", "labels"}, 1},
	"docker_build": {[]string{"ref", "context", "build_args", "dockerfile", "dockerfile_contents", "live_update", "match_in_env_vars",
		"ignore", "only", "entrypoint", "target", "ssh", "network", "secret", "extra_tag", "container_args", "cache_from", "pull",
		"platform", "extra_hosts"}, 2},
	"k8s_yaml": {[]string{"yaml", "allow_duplicates"}, 1},
	"helm":     {[]string{"paths", "name", "namespace", "values", "set", "kube_version", "skip_crds"}, 1},
	"k8s_resource": {[]string{"workload", "new_name", "port_forwards", "extra_pod_selectors", "trigger_mode", "resource_deps",
		"objects", "auto_init", "pod_readiness", "links", "labels", "discovery_strategy"}, 0},
	"sync":                 {[]string{"local_path", "remote_path"}, 2},
	"run":                  {[]string{"cmd", "trigger", "echo_off"}, 1},
	"link":                 {[]string{"url", "name"}, 1},
	"k8s_context":          {nil, 0},
	"allow_k8s_contexts":   {[]string{"contexts"}, 1},
	"watch_file":           {[]string{"file_path"}, 1},
	"update_settings":      {[]string{"max_parallel_updates", "k8s_upsert_timeout_secs", "suppress_unused_image_warnings"}, 0},
	"read_yaml":            {[]string{"path", "default"}, 1},
	"local":                {[]string{"command", "quiet", "command_bat", "echo_off", "env", "dir", "stdin"}, 1},
	"config.define_string": {[]string{"name", "args", "usage"}, 1},
	"config.define_bool":   {[]string{"name", "args", "usage"}, 1},
	"config.parse":         {nil, 0},
	"os.path.exists":       {[]string{"path"}, 1},
	"os.path.join":         {nil, 0}, // variadic, handled separately
	// ext://restart_process
	"docker_build_with_restart": {append([]string{"ref", "context", "entrypoint", "live_update", "base_suffix", "restart_file"},
		"build_args", "dockerfile", "dockerfile_contents", "match_in_env_vars", "ignore", "only", "target", "ssh", "network",
		"secret", "extra_tag", "container_args", "cache_from", "pull", "platform", "extra_hosts"), 4},
}

type tiltCall struct {
	fn   string
	args map[string]starlark.Value
	pos  string
}

type tiltSim struct {
	t       *testing.T
	root    string
	context string
	flags   map[string]string
	calls   []tiltCall
	defined []string
	modules map[string]starlark.StringDict
}

func (s *tiltSim) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.root, p)
}

func (s *tiltSim) builtin(name string, ret func(args map[string]starlark.Value) (starlark.Value, error)) *starlark.Builtin {
	spec, ok := tiltParams[name]
	if !ok {
		panic("no params for " + name)
	}
	short := name[strings.LastIndex(name, ".")+1:]
	return starlark.NewBuiltin(short, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		m := map[string]starlark.Value{}
		if len(args) > len(spec.params) {
			return nil, fmt.Errorf("%s: %d positional arguments, takes at most %d", name, len(args), len(spec.params))
		}
		for i, a := range args {
			m[spec.params[i]] = a
		}
		for _, kv := range kwargs {
			k := string(kv[0].(starlark.String))
			if !slices.Contains(spec.params, k) {
				return nil, fmt.Errorf("%s: unexpected keyword argument %q (Tilt API: %v)", name, k, spec.params)
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("%s: argument %q given twice", name, k)
			}
			m[k] = kv[1]
		}
		for _, p := range spec.params[:spec.required] {
			if _, ok := m[p]; !ok {
				return nil, fmt.Errorf("%s: missing argument %q", name, p)
			}
		}
		s.calls = append(s.calls, tiltCall{fn: name, args: m, pos: th.CallFrame(1).Pos.String()})
		if ret != nil {
			return ret(m)
		}
		return starlark.None, nil
	})
}

func step(kind string, args map[string]starlark.Value) *starlarkstruct.Struct {
	d := starlark.StringDict{}
	for k, v := range args {
		d[k] = v
	}
	return starlarkstruct.FromStringDict(starlark.String(kind), d)
}

func (s *tiltSim) predeclared() starlark.StringDict {
	returnStep := func(kind string) func(map[string]starlark.Value) (starlark.Value, error) {
		return func(a map[string]starlark.Value) (starlark.Value, error) { return step(kind, a), nil }
	}
	config := starlarkstruct.FromStringDict(starlark.String("config"), starlark.StringDict{
		"main_dir": starlark.String(s.root),
		"define_string": s.builtin("config.define_string", func(a map[string]starlark.Value) (starlark.Value, error) {
			s.defined = append(s.defined, string(a["name"].(starlark.String)))
			return starlark.None, nil
		}),
		"define_bool": s.builtin("config.define_bool", nil),
		"parse": s.builtin("config.parse", func(map[string]starlark.Value) (starlark.Value, error) {
			d := starlark.NewDict(len(s.flags))
			for k, v := range s.flags {
				if !slices.Contains(s.defined, k) {
					return nil, fmt.Errorf("config flag --%s is not defined by the Tiltfile", k)
				}
				_ = d.SetKey(starlark.String(k), starlark.String(v))
			}
			return d, nil
		}),
	})
	path := starlarkstruct.FromStringDict(starlark.String("path"), starlark.StringDict{
		"exists": s.builtin("os.path.exists", func(a map[string]starlark.Value) (starlark.Value, error) {
			_, err := os.Stat(s.abs(string(a["path"].(starlark.String))))
			return starlark.Bool(err == nil), nil
		}),
		"join": starlark.NewBuiltin("join", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			var parts []string
			for _, a := range args {
				parts = append(parts, string(a.(starlark.String)))
			}
			return starlark.String(filepath.Join(parts...)), nil
		}),
	})
	osmod := starlarkstruct.FromStringDict(starlark.String("os"), starlark.StringDict{"path": path, "name": starlark.String("posix")})
	return starlark.StringDict{
		"config":             config,
		"os":                 osmod,
		"struct":             starlark.NewBuiltin("struct", starlarkstruct.Make),
		"local_resource":     s.builtin("local_resource", nil),
		"docker_build":       s.builtin("docker_build", nil),
		"k8s_yaml":           s.builtin("k8s_yaml", nil),
		"k8s_resource":       s.builtin("k8s_resource", nil),
		"helm":               s.builtin("helm", returnStep("helm_blob")),
		"sync":               s.builtin("sync", returnStep("sync")),
		"run":                s.builtin("run", returnStep("run")),
		"link":               s.builtin("link", returnStep("link")),
		"k8s_context":        s.builtin("k8s_context", func(map[string]starlark.Value) (starlark.Value, error) { return starlark.String(s.context), nil }),
		"allow_k8s_contexts": s.builtin("allow_k8s_contexts", nil),
		"watch_file":         s.builtin("watch_file", nil),
		"update_settings":    s.builtin("update_settings", nil),
		"local":              s.builtin("local", func(map[string]starlark.Value) (starlark.Value, error) { return starlark.String(""), nil }),
		"read_yaml": s.builtin("read_yaml", func(a map[string]starlark.Value) (starlark.Value, error) {
			p := s.abs(string(a["path"].(starlark.String)))
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			var v any
			if err := yaml.Unmarshal(data, &v); err != nil {
				return nil, fmt.Errorf("read_yaml %s: %w", p, err)
			}
			return toStarlark(v), nil
		}),
	}
}

func toStarlark(v any) starlark.Value {
	switch x := v.(type) {
	case nil:
		return starlark.None
	case bool:
		return starlark.Bool(x)
	case float64:
		if x == float64(int64(x)) {
			return starlark.MakeInt64(int64(x))
		}
		return starlark.Float(x)
	case string:
		return starlark.String(x)
	case []any:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = toStarlark(e)
		}
		return starlark.NewList(l)
	case map[string]any:
		d := starlark.NewDict(len(x))
		for k, e := range x {
			_ = d.SetKey(starlark.String(k), toStarlark(e))
		}
		return d
	}
	panic(fmt.Sprintf("toStarlark: %T", v))
}

// Tilt's Starlark dialect allows top-level if/for and global reassignment.
var tiltFileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

func (s *tiltSim) exec(file string) (starlark.StringDict, error) {
	pre := s.predeclared()
	thread := &starlark.Thread{Name: "tilt", Print: func(_ *starlark.Thread, msg string) { s.t.Log(msg) }}
	var load func(th *starlark.Thread, module string) (starlark.StringDict, error)
	load = func(th *starlark.Thread, module string) (starlark.StringDict, error) {
		if module == "ext://restart_process" {
			return starlark.StringDict{"docker_build_with_restart": s.builtin("docker_build_with_restart", nil)}, nil
		}
		if strings.HasPrefix(module, "ext://") {
			return nil, fmt.Errorf("extension %s is not simulated: add it to tests/chart/tilt_test.go", module)
		}
		p := filepath.Join(filepath.Dir(th.CallFrame(0).Pos.Filename()), module)
		if m, ok := s.modules[p]; ok {
			return m, nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load(%q): %w", module, err)
		}
		sub := &starlark.Thread{Name: "load " + module, Load: load, Print: thread.Print}
		m, err := starlark.ExecFileOptions(tiltFileOptions, sub, p, src, pre)
		if err != nil {
			return nil, err
		}
		s.modules[p] = m
		return m, nil
	}
	thread.Load = load
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return starlark.ExecFileOptions(tiltFileOptions, thread, file, src, pre)
}

func runTiltfile(t *testing.T, context string, flags map[string]string) *tiltSim {
	t.Helper()
	s := &tiltSim{t: t, root: repoRoot, context: context, flags: flags, modules: map[string]starlark.StringDict{}}
	if _, err := s.exec(filepath.Join(repoRoot, "Tiltfile")); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatalf("Tiltfile: %s", ee.Backtrace())
		}
		t.Fatalf("Tiltfile: %v", err)
	}
	return s
}

func (s *tiltSim) callsOf(fn string) []tiltCall {
	var out []tiltCall
	for _, c := range s.calls {
		if c.fn == fn {
			out = append(out, c)
		}
	}
	return out
}

func str(v starlark.Value) string {
	if s, ok := v.(starlark.String); ok {
		return string(s)
	}
	return ""
}

func strList(v starlark.Value) []string {
	if v == nil {
		return nil
	}
	if s, ok := v.(starlark.String); ok {
		return []string{string(s)}
	}
	var out []string
	if it, ok := v.(starlark.Iterable); ok {
		iter := it.Iterate()
		defer iter.Done()
		var x starlark.Value
		for iter.Next(&x) {
			out = append(out, str(x))
		}
	}
	return out
}

func structAttr(v starlark.Value, name string) string {
	st, ok := v.(*starlarkstruct.Struct)
	if !ok {
		return ""
	}
	a, err := st.Attr(name)
	if err != nil {
		return ""
	}
	return str(a)
}

func TestTiltfile(t *testing.T) {
	dev := newIndex(t, caseNamed(t, "dev"))
	devSvcs := dev.switchyardDeployments()
	defaults := defaultValues(t)
	prefix := lookup(defaults, "image.repositoryPrefix").(string)

	// Workloads Tilt may reference: the dev rendering plus k8s/dev manifests.
	workloads := map[string]corev1.PodSpec{}
	for name, d := range dev.deployments {
		workloads[name] = d.Spec.Template.Spec
	}
	devServices := map[string]*corev1.Service{}
	for _, o := range devManifests(t) {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			workloads[o.Name] = v.Spec.Template.Spec
		case *appsv1.StatefulSet:
			workloads[o.Name] = v.Spec.Template.Spec
		case *corev1.Service:
			devServices[o.Name] = v
		}
	}

	runs := []struct {
		name    string
		context string
		flags   map[string]string
		forward bool
	}{
		{"kind cluster", "kind-switchyard", nil, false},
		{"other cluster", "docker-desktop", nil, true},
		{"forced forwards, k8s/dev deps", "kind-switchyard", map[string]string{"port-forwards": "on", "deps": "manifests"}, true},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			s := runTiltfile(t, run.context, run.flags)

			// helm(): the chart with the dev example, same release name as chart-check renders.
			hc := s.callsOf("helm")
			if len(hc) != 1 {
				t.Fatalf("want one helm() call, got %d", len(hc))
			}
			if p := s.abs(str(hc[0].args["paths"])); p != chartDir {
				t.Errorf("helm() chart %s, want %s", p, chartDir)
			}
			if n := str(hc[0].args["name"]); n != releaseName {
				t.Errorf("helm() release %q, want %q (resource names below are derived from it)", n, releaseName)
			}
			if vals := strList(hc[0].args["values"]); !slices.Contains(vals, "charts/switchyard/examples/dev.yaml") {
				t.Errorf("helm() values %v, want charts/switchyard/examples/dev.yaml", vals)
			}
			sets := strList(hc[0].args["set"])
			for _, kv := range sets {
				k, _, _ := strings.Cut(kv, "=")
				if lookup(defaults, k) == nil {
					t.Errorf("helm() set %q: %s is not a key of values.yaml", kv, k)
				}
			}
			if !slices.Contains(sets, "tests.enabled=false") {
				t.Error("helm() must disable the helm test pod under Tilt")
			}
			manifestsMode := run.flags["deps"] == "manifests"
			if got := slices.Contains(sets, "nats.embedded.enabled=false"); got != manifestsMode {
				t.Errorf("nats.embedded.enabled=false set = %v, want %v", got, manifestsMode)
			}

			// k8s_yaml(): files exist; Jaeger always, NATS/Redis manifests only on request.
			var yamls []string
			for _, c := range s.callsOf("k8s_yaml") {
				for _, p := range strList(c.args["yaml"]) {
					if _, err := os.Stat(s.abs(p)); err != nil {
						t.Errorf("%s: k8s_yaml(%q): %v", c.pos, p, err)
					}
					yamls = append(yamls, p)
				}
			}
			if !slices.Contains(yamls, "k8s/dev/jaeger.yaml") {
				t.Error("k8s/dev/jaeger.yaml is not deployed")
			}
			if got := slices.Contains(yamls, "k8s/dev/nats.yaml"); got != manifestsMode {
				t.Errorf("k8s/dev/nats.yaml deployed = %v, want %v", got, manifestsMode)
			}

			// One compile + image per enabled chart service, matching the chart.
			builds := map[string]tiltCall{}
			for _, c := range s.callsOf("docker_build_with_restart") {
				builds[str(c.args["ref"])] = c
			}
			if len(s.callsOf("docker_build")) != 0 {
				t.Error("use docker_build_with_restart (live_update needs the restart)")
			}
			compiles := map[string]tiltCall{}
			for _, c := range s.callsOf("local_resource") {
				compiles[str(c.args["name"])] = c
			}
			for svc, d := range devSvcs {
				ref := prefix + "/" + svc
				img := d.Spec.Template.Spec.Containers[0].Image
				if !strings.HasPrefix(img, ref+":") {
					t.Errorf("chart image %s does not start with Tilt's ref %s", img, ref)
				}
				b, ok := builds[ref]
				if !ok {
					t.Errorf("no image build for %s", ref)
					continue
				}
				bin := "sy-" + svc
				if ctx := s.abs(str(b.args["context"])); ctx != filepath.Join(repoRoot, ".tilt-bin") {
					t.Errorf("%s: context %s, want .tilt-bin", ref, ctx)
				}
				if only := strList(b.args["only"]); !slices.Equal(only, []string{bin}) {
					t.Errorf("%s: only=%v, want [%s]", ref, only, bin)
				}
				if df := s.abs(str(b.args["dockerfile"])); df != filepath.Join(repoRoot, "tilt", "Dockerfile.dev") {
					t.Errorf("%s: dockerfile %s, want tilt/Dockerfile.dev", ref, df)
				}
				if ep := strList(b.args["entrypoint"]); !slices.Equal(ep, []string{"/app/service"}) {
					t.Errorf("%s: entrypoint %v, want [/app/service]", ref, ep)
				}
				if rf := str(b.args["restart_file"]); !strings.HasPrefix(rf, "/app/") {
					t.Errorf("%s: restart_file %q must live in /app (the only dir user 65532 can write)", ref, rf)
				}
				if ba, ok := b.args["build_args"].(*starlark.Dict); !ok || func() string { v, _, _ := ba.Get(starlark.String("SERVICE")); return str(v) }() != svc {
					t.Errorf("%s: build_args must set SERVICE=%s", ref, svc)
				}
				var synced bool
				if lu, ok := b.args["live_update"].(*starlark.List); ok {
					for i := 0; i < lu.Len(); i++ {
						if structAttr(lu.Index(i), "remote_path") == "/app/service" &&
							s.abs(structAttr(lu.Index(i), "local_path")) == filepath.Join(repoRoot, ".tilt-bin", bin) {
							synced = true
						}
					}
				}
				if !synced {
					t.Errorf("%s: live_update must sync .tilt-bin/%s to /app/service", ref, bin)
				}
				c, ok := compiles["compile-"+svc]
				if !ok {
					t.Errorf("no local_resource compile-%s", svc)
					continue
				}
				cmd := str(c.args["cmd"])
				for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "go build", "-o .tilt-bin/" + bin, "./services/" + svc} {
					if !strings.Contains(cmd, want) {
						t.Errorf("compile-%s: cmd %q lacks %q", svc, cmd, want)
					}
				}
				if dir := s.abs(str(c.args["dir"])); dir != repoRoot {
					t.Errorf("compile-%s: dir %s, want the repo root", svc, dir)
				}
				if deps := strList(c.args["deps"]); !slices.Contains(deps, filepath.Join(repoRoot, "services", svc)) {
					t.Errorf("compile-%s: deps %v lack services/%s", svc, deps, svc)
				}
			}
			if len(builds) != len(devSvcs) {
				t.Errorf("Tilt builds %d images, the dev chart runs %d services", len(builds), len(devSvcs))
			}

			// k8s_resource: workloads exist, deps exist, port forwards hit real ports.
			resources := map[string]bool{}
			for name := range compiles {
				resources[name] = true
			}
			krs := s.callsOf("k8s_resource")
			for _, c := range krs {
				w := str(c.args["workload"])
				if n := str(c.args["new_name"]); n != "" {
					resources[n] = true
				} else {
					resources[w] = true
				}
			}
			forwards := map[string][]string{}
			for _, c := range krs {
				w := str(c.args["workload"])
				spec, ok := workloads[w]
				if !ok {
					t.Errorf("%s: k8s_resource(%q): no such workload in the dev chart or k8s/dev", c.pos, w)
					continue
				}
				for _, dep := range strList(c.args["resource_deps"]) {
					if !resources[dep] {
						t.Errorf("%s: k8s_resource(%q): unknown resource_dep %q", c.pos, w, dep)
					}
				}
				for _, pf := range strList(c.args["port_forwards"]) {
					local, remote, _ := strings.Cut(pf, ":")
					port, err := strconv.Atoi(remote)
					if err != nil {
						t.Errorf("%s: port forward %q", c.pos, pf)
						continue
					}
					found := false
					for _, ctr := range spec.Containers {
						for _, p := range ctr.Ports {
							found = found || int(p.ContainerPort) == port
						}
					}
					if !found {
						t.Errorf("%s: port forward %s: %s has no container port %d", c.pos, pf, w, port)
					}
					forwards[w] = append(forwards[w], local+":"+remote)
				}
			}
			gw := devSvcs["gateway"].Name
			wantGW := []string{"8080:" + strconv.Itoa(int(contract["gateway"].Port))}
			wantJaeger := []string{"16686:16686"}
			if !run.forward {
				wantGW, wantJaeger = nil, nil
			}
			if !slices.Equal(forwards[gw], wantGW) {
				t.Errorf("gateway port forwards %v, want %v", forwards[gw], wantGW)
			}
			if !slices.Equal(forwards["jaeger"], wantJaeger) {
				t.Errorf("jaeger port forwards %v, want %v", forwards["jaeger"], wantJaeger)
			}
		})
	}

	// Without port forwards, kind's host ports must lead to the same places.
	t.Run("kind host ports match the NodePorts", func(t *testing.T) {
		cluster := kindCluster(t)
		hostToNode := map[int32]int32{}
		for _, n := range cluster.Nodes {
			for _, m := range n.ExtraPortMappings {
				hostToNode[m.HostPort] = m.ContainerPort
			}
		}
		gwSvc := dev.services[devSvcs["gateway"].Name]
		if gwSvc.Spec.Type != corev1.ServiceTypeNodePort || hostToNode[8080] != gwSvc.Spec.Ports[0].NodePort {
			t.Errorf("kind hostPort 8080 -> %d, dev gateway Service %s NodePort %d", hostToNode[8080], gwSvc.Spec.Type, gwSvc.Spec.Ports[0].NodePort)
		}
		q, ok := devServices["jaeger-query"]
		if !ok || q.Spec.Type != corev1.ServiceTypeNodePort || hostToNode[16686] != q.Spec.Ports[0].NodePort || q.Spec.Ports[0].Port != 16686 {
			t.Errorf("kind hostPort 16686 -> %d must reach Service jaeger-query port 16686 via its NodePort", hostToNode[16686])
		}
		// And the OTLP endpoint of the dev example is the Jaeger collector Service.
		otlp := dev.configMaps[devSvcs["gateway"].Name].Data["SY_OTLP_ENDPOINT"]
		c, ok := devServices["jaeger-collector"]
		if !ok || otlp != "http://jaeger-collector:4318" || c.Spec.Ports[0].Port != 4318 {
			t.Errorf("dev SY_OTLP_ENDPOINT %q must be the jaeger-collector Service on 4318", otlp)
		}
	})

	t.Run("Dockerfile.dev", func(t *testing.T) {
		df := string(readRepoFile(t, "tilt/Dockerfile.dev"))
		for _, want := range []string{"ARG SERVICE", "COPY --chown=65532:65532 sy-${SERVICE} /app/service", "USER 65532:65532", `ENTRYPOINT ["/app/service"]`} {
			if !strings.Contains(df, want) {
				t.Errorf("tilt/Dockerfile.dev lacks %q", want)
			}
		}
	})
}

func TestTiltfileRejectsBadFlags(t *testing.T) {
	s := &tiltSim{t: t, root: repoRoot, context: "kind-switchyard", flags: map[string]string{"deps": "docker"}, modules: map[string]starlark.StringDict{}}
	_, err := s.exec(filepath.Join(repoRoot, "Tiltfile"))
	if err == nil || !strings.Contains(err.Error(), "--deps must be") {
		t.Fatalf("want the Tiltfile to fail on --deps=docker, got %v", err)
	}
	// And the simulator itself catches a misspelled Tilt parameter.
	s = &tiltSim{t: t, root: repoRoot, modules: map[string]starlark.StringDict{}}
	_, err = starlark.ExecFileOptions(tiltFileOptions, &starlark.Thread{}, "bad.star", "k8s_resource('x', port_forward=['1:1'])\n", s.predeclared())
	if err == nil || !strings.Contains(err.Error(), `unexpected keyword argument "port_forward"`) {
		t.Fatalf("want an unexpected keyword error, got %v", err)
	}
}
