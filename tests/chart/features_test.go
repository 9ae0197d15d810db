package chart

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// valuesList returns the list at a dotted path of the case's values file.
func (ix *index) valuesList(path string) []any {
	l, _ := lookup(ix.values, path).([]any)
	return l
}

// extraEnvNames: env names the case's values add to a service (extraEnv).
func (ix *index) extraEnvNames(svc string) []string {
	var out []string
	for _, e := range ix.valuesList("services." + svc + ".extraEnv") {
		if m, ok := e.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["name"]))
		}
	}
	return out
}

// isExtraEnvFrom reports whether ef is one of the case's extraEnvFrom sources.
func (ix *index) isExtraEnvFrom(ef corev1.EnvFromSource) bool {
	var name string
	switch {
	case ef.ConfigMapRef != nil:
		name = "configMapRef." + ef.ConfigMapRef.Name
	case ef.SecretRef != nil:
		name = "secretRef." + ef.SecretRef.Name
	}
	svcs, _ := lookup(ix.values, "services").(map[string]any)
	for svc := range svcs {
		for _, e := range ix.valuesList("services." + svc + ".extraEnvFrom") {
			m, _ := e.(map[string]any)
			for kind, ref := range m {
				if r, ok := ref.(map[string]any); ok && kind+"."+fmt.Sprint(r["name"]) == name {
					return true
				}
			}
		}
	}
	return false
}

// fromExistingSecret: the env comes from a Secret the chart does not render.
func (ix *index) fromExistingSecret(v envVar) bool {
	if v.SecretRef == nil {
		return false
	}
	_, rendered := ix.secrets[v.SecretRef.Name]
	return !rendered
}

func (ix *index) str(path string) string {
	s, _ := lookup(ix.values, path).(string)
	return s
}

// NATS and Redis URLs and Redis credentials come from Secrets: the chart's
// <fullname>-connection or the user's existingSecret, never a ConfigMap.
func checkConnectionEnv(t *testing.T, ix *index, where string, env map[string]envVar) {
	t.Helper()
	wantSecret := map[string]string{"SY_NATS_URL": ix.str("nats.existingSecret"), "SY_REDIS_URL": ix.str("redis.existingSecret")}
	for _, name := range append(slices.Clone(connectionSecrets), optionalSecrets...) {
		v, ok := env[name]
		if !ok {
			continue
		}
		if v.SecretRef == nil {
			t.Errorf("%s: %s must come from a Secret (it may carry a password)", where, name)
			continue
		}
		if v.SecretRef.Key != name {
			t.Errorf("%s: %s from Secret key %q, want %q", where, name, v.SecretRef.Key, name)
		}
		want := wantSecret[name]
		if slices.Contains(optionalSecrets, name) {
			want = ix.str("redis.existingSecret")
		}
		if want == "" {
			want = ix.r.fullname() + "-connection"
		}
		if v.SecretRef.Name != want {
			t.Errorf("%s: %s from Secret %q, want %q", where, name, v.SecretRef.Name, want)
		}
		if ix.fromExistingSecret(v) && v.SecretRef.Name != ix.str("nats.existingSecret") && v.SecretRef.Name != ix.str("redis.existingSecret") {
			t.Errorf("%s: %s from Secret %q, which is neither rendered nor an existingSecret", where, name, v.SecretRef.Name)
		}
	}
	// Sentinel / Cluster settings follow the values.
	if addrs := ix.valuesList("redis.addrs"); len(addrs) > 0 {
		var want []string
		for _, a := range addrs {
			want = append(want, fmt.Sprint(a))
		}
		if got := env["SY_REDIS_ADDRS"].Value; got != strings.Join(want, ",") {
			t.Errorf("%s: SY_REDIS_ADDRS %q, want %q", where, got, strings.Join(want, ","))
		}
	} else if _, has := env["SY_REDIS_ADDRS"]; has {
		t.Errorf("%s: SY_REDIS_ADDRS set without redis.addrs", where)
	}
	if got, want := env["SY_REDIS_MASTER_NAME"].Value, ix.str("redis.masterName"); got != want {
		t.Errorf("%s: SY_REDIS_MASTER_NAME %q, want %q", where, got, want)
	}
}

// secretFileIntent maps file env vars to the value that turns them on.
var secretFileIntent = map[string]string{
	"SY_NATS_CREDS": "nats.creds.secretName", "SY_NATS_NKEY": "nats.nkey.secretName",
	"SY_NATS_TLS_CA": "nats.tls.ca.secretName", "SY_NATS_TLS_CERT": "nats.tls.clientCert.secretName",
	"SY_NATS_TLS_KEY": "nats.tls.clientCert.secretName",
}

// Key material is a file from a Secret volume, and its env var names that file.
func checkSecretFiles(t *testing.T, ix *index, where string, d *appsv1.Deployment, env map[string]envVar) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	svc := d.Spec.Template.Labels[componentLabel]
	for _, name := range secretFileEnv {
		v, has := env[name]
		wantSecret := ix.str(secretFileIntent[name])
		if name == "SY_JWT_HMAC_SECRET_FILE" {
			switch {
			case svc != "gateway":
			case ix.str("jwt.existingSecret.name") != "":
				wantSecret = ix.str("jwt.existingSecret.name")
			case ix.str("jwt.hmacSecret") != "":
				wantSecret = ix.r.fullname() + "-jwt"
			}
		}
		if has != (wantSecret != "") {
			t.Errorf("%s: %s set = %v, but the values ask for a file from Secret %q", where, name, has, wantSecret)
		}
		if !has {
			continue
		}
		var found bool
		for _, m := range c.VolumeMounts {
			rel, ok := strings.CutPrefix(v.Value, m.MountPath+"/")
			if !ok {
				continue
			}
			if !m.ReadOnly {
				t.Errorf("%s: mount %s of %s must be read-only", where, m.MountPath, name)
			}
			for _, vol := range pod.Volumes {
				if vol.Name != m.Name || vol.Secret == nil {
					continue
				}
				if vol.Secret.SecretName != wantSecret {
					t.Errorf("%s: %s from Secret %q, want %q", where, name, vol.Secret.SecretName, wantSecret)
				}
				for _, it := range vol.Secret.Items {
					found = found || it.Path == rel
				}
				if vol.Secret.DefaultMode == nil || *vol.Secret.DefaultMode&0o007 != 0 {
					t.Errorf("%s: Secret volume %s must not be world-readable", where, vol.Name)
				}
			}
		}
		if !found {
			t.Errorf("%s: %s = %s is not a file of a mounted Secret volume", where, name, v.Value)
		}
	}
}

// GOMEMLIMIT is goMemLimit.percent of the memory limit (MiB, rounded down).
func checkGoMemLimit(t *testing.T, ix *index, where string, c corev1.Container, env map[string]envVar) {
	t.Helper()
	on := lookup(ix.values, "goMemLimit.enabled") != false
	got, has := env["GOMEMLIMIT"]
	if has != on {
		t.Fatalf("%s: GOMEMLIMIT set = %v, goMemLimit.enabled = %v", where, has, on)
	}
	if !on {
		return
	}
	pct := 90.0
	if p, ok := lookup(ix.values, "goMemLimit.percent").(float64); ok {
		pct = p
	}
	limit := c.Resources.Limits.Memory().Value()
	want := fmt.Sprintf("%dMiB", int64(float64(limit)*pct/100)/(1<<20))
	if got.Value != want {
		t.Errorf("%s: GOMEMLIMIT %q, want %s (%v%% of %s)", where, got.Value, want, pct, c.Resources.Limits.Memory())
	}
}

func (r *rendered) fullname() string {
	for _, o := range r.Objects {
		if d, ok := o.Obj.(*appsv1.Deployment); ok {
			if svc := d.Spec.Template.Labels[componentLabel]; svc != "" {
				if _, known := contract[svc]; known {
					return strings.TrimSuffix(d.Name, "-"+svc)
				}
			}
		}
	}
	return ""
}

var secretishKey = regexp.MustCompile(`(PASSWORD|SECRET|_TOKENS|_TOKEN_VALUE)$`)

// No ConfigMap holds a password: neither a URL with user info nor a key that
// names a secret (file paths of mounted Secrets are fine).
func TestNoSecretsInConfigMaps(t *testing.T) {
	for _, r := range allCases(t) {
		ix := newIndex(t, r)
		for _, cm := range ix.configMaps {
			for k, v := range cm.Data {
				if secretishKey.MatchString(k) {
					t.Errorf("%s ConfigMap/%s: key %s looks secret", r.Name, cm.Name, k)
				}
				for _, word := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
					if u, err := url.Parse(word); err == nil && u.User != nil {
						t.Errorf("%s ConfigMap/%s: %s holds a URL with credentials", r.Name, cm.Name, k)
					}
				}
				if k == "SY_NATS_URL" || k == "SY_REDIS_URL" {
					t.Errorf("%s ConfigMap/%s: %s belongs in a Secret", r.Name, cm.Name, k)
				}
			}
		}
	}
	// A URL with a password ends up in the connection Secret, not the ConfigMap.
	out, stderr, err := helmTemplate(t, "--set", "nats.url=nats://u:hunter2@nats:4222", "--set", "redis.url=redis://:hunter3@redis:6379/0",
		"--set", "redis.password=hunter4")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr)
	}
	objs, err := DecodeManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndex(t, &rendered{valueCase: valueCase{Name: "passwords"}, Objects: objs})
	for _, cm := range ix.configMaps {
		for k, v := range cm.Data {
			if strings.Contains(v, "hunter") {
				t.Errorf("ConfigMap/%s %s carries a password", cm.Name, k)
			}
		}
	}
	conn, ok := ix.secrets[releaseName+"-connection"]
	if !ok {
		t.Fatal("no connection Secret rendered")
	}
	if conn.StringData["SY_NATS_URL"] != "nats://u:hunter2@nats:4222" || conn.StringData["SY_REDIS_PASSWORD"] != "hunter4" {
		t.Errorf("connection Secret %v", conn.StringData)
	}
	for svc, d := range ix.switchyardDeployments() {
		env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
		if env["SY_REDIS_PASSWORD"].Value != "hunter4" || env["SY_REDIS_URL"].Value != "redis://:hunter3@redis:6379/0" {
			t.Errorf("%s: Redis URL/password not from the connection Secret: %+v", svc, env["SY_REDIS_PASSWORD"])
		}
	}
}

// The internal port (metrics, pprof) is on no public Service, Ingress or
// HTTPRoute; probes, scrape annotations and monitors point at it.
func TestInternalPortStaysInternal(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			gw := ix.switchyardDeployments()["gateway"]
			gc := gw.Spec.Template.Spec.Containers[0]
			internal := containerPort(gc, "internal")
			pub := ix.services[gw.Name]
			for _, p := range pub.Spec.Ports {
				if resolvePort(gc, p.TargetPort) == internal || p.Port == internal {
					t.Errorf("public Service %s exposes the internal port %d", pub.Name, internal)
				}
			}
			if pub.Labels["switchyard.io/endpoint"] != "public" {
				t.Errorf("Service/%s: label switchyard.io/endpoint=%q, want public", pub.Name, pub.Labels["switchyard.io/endpoint"])
			}
			in, ok := ix.services[gw.Name+"-internal"]
			if !ok || in.Spec.Type != corev1.ServiceTypeClusterIP || len(in.Spec.Ports) != 1 ||
				resolvePort(gc, in.Spec.Ports[0].TargetPort) != internal || in.Labels["switchyard.io/endpoint"] != "internal" {
				t.Errorf("want a ClusterIP Service %s-internal on the gateway's internal port %d", gw.Name, internal)
			}
			for _, s := range ix.services {
				if s.Labels["switchyard.io/endpoint"] == "internal" && s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("internal Service %s has type %s", s.Name, s.Spec.Type)
				}
			}
			for _, ing := range ix.ingresses {
				for _, rule := range ing.Spec.Rules {
					for _, p := range rule.HTTP.Paths {
						if b := p.Backend.Service; b.Name != pub.Name || b.Port.Name == "internal" {
							t.Errorf("Ingress/%s routes to %s port %+v, want only the public gateway Service", ing.Name, b.Name, b.Port)
						}
					}
				}
			}
			for _, hr := range ix.httpRoutes {
				for _, rule := range hr.Spec.Rules {
					for _, b := range rule.BackendRefs {
						if string(b.Name) != pub.Name || b.Port == nil || int32(*b.Port) != pub.Spec.Ports[0].Port {
							t.Errorf("HTTPRoute/%s routes to %s:%v, want %s:%d", hr.Name, b.Name, b.Port, pub.Name, pub.Spec.Ports[0].Port)
						}
					}
				}
			}
			for svc, d := range ix.switchyardDeployments() {
				c := d.Spec.Template.Spec.Containers[0]
				if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] == "true" && a["prometheus.io/port"] != fmt.Sprint(containerPort(c, "internal")) {
					t.Errorf("%s: prometheus.io/port %s, want the internal port %d", svc, a["prometheus.io/port"], containerPort(c, "internal"))
				}
			}
		})
	}
}

// ServiceMonitor and PodMonitor select exactly the switchyard internal
// endpoints; the PrometheusRule and the Grafana dashboard use only metrics
// that docs/metrics.md lists.
func TestMonitoring(t *testing.T) {
	var sawSM, sawRule, sawDash, sawPM bool
	for _, r := range allCases(t) {
		ix := newIndex(t, r)
		for _, o := range r.Objects {
			switch v := o.Obj.(type) {
			case *monitoringv1.ServiceMonitor:
				sawSM = true
				sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
				if err != nil {
					t.Fatal(err)
				}
				var matched []string
				for _, s := range ix.services {
					if sel.Matches(labels.Set(s.Labels)) {
						matched = append(matched, s.Name)
						if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "internal" {
							t.Errorf("%s ServiceMonitor selects Service %s without the internal port", r.Name, s.Name)
						}
					}
				}
				for svc, d := range ix.switchyardDeployments() {
					if svc != "gateway" && lookup(ix.values, "services."+svc+".service.enabled") == false {
						continue
					}
					name := d.Name
					if svc == "gateway" {
						name += "-internal"
					}
					if !slices.Contains(matched, name) {
						t.Errorf("%s ServiceMonitor misses Service %s (matched %v)", r.Name, name, matched)
					}
				}
				if len(v.Spec.Endpoints) != 1 || v.Spec.Endpoints[0].Port != "internal" || v.Spec.Endpoints[0].Path != "/metrics" {
					t.Errorf("%s ServiceMonitor endpoints %+v, want port internal /metrics", r.Name, v.Spec.Endpoints)
				}
			case *monitoringv1.PodMonitor:
				sawPM = true
				sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ix.deployments {
					_, isSvc := contract[d.Spec.Template.Labels[componentLabel]]
					if sel.Matches(labels.Set(d.Spec.Template.Labels)) != isSvc {
						t.Errorf("%s PodMonitor selects %s = %v, want %v", r.Name, d.Name, !isSvc, isSvc)
					}
				}
				if p := v.Spec.PodMetricsEndpoints; len(p) != 1 || p[0].Port == nil || *p[0].Port != "internal" {
					t.Errorf("%s PodMonitor endpoints %+v, want port internal", r.Name, p)
				}
			case *monitoringv1.PrometheusRule:
				sawRule = true
				var alerts []string
				for _, g := range v.Spec.Groups {
					for _, rule := range g.Rules {
						alerts = append(alerts, rule.Alert)
						checkMetricNames(t, r.Name+" PrometheusRule "+rule.Alert, rule.Expr.String())
						if rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
							t.Errorf("%s alert %s needs a severity label and a summary", r.Name, rule.Alert)
						}
						if !strings.Contains(rule.Expr.String(), `namespace="`+namespace+`"`) {
							t.Errorf("%s alert %s is not scoped to the release namespace: %s", r.Name, rule.Alert, rule.Expr.String())
						}
					}
				}
				sort.Strings(alerts)
				if want := []string{"SwitchyardPodNotReady", "SwitchyardRedeliveries", "SwitchyardSlowConsumerDrops", "SwitchyardTargetDown"}; !slices.Equal(alerts, want) {
					t.Errorf("%s alerts %v, want %v", r.Name, alerts, want)
				}
			case *corev1.ConfigMap:
				if v.Labels["grafana_dashboard"] == "" {
					continue
				}
				sawDash = true
				checkDashboard(t, r.Name, v.Data["switchyard.json"])
			}
		}
		// The flags: nothing of this by default.
		if r.Name == "default" && (sawSM || sawRule || sawDash || sawPM) {
			t.Error("default values render monitoring objects; they need the prometheus-operator CRDs and must be opt-in")
		}
	}
	if !sawSM || !sawRule || !sawDash || !sawPM {
		t.Errorf("value cases render ServiceMonitor %v, PodMonitor %v, PrometheusRule %v, dashboard %v: want each somewhere (ci/)", sawSM, sawPM, sawRule, sawDash)
	}
}

var metricRe = regexp.MustCompile(`\b((?:switchyard|go|process)_[a-z0-9_]+|up|kube_pod_status_ready)\b`)

// checkMetricNames: every metric an expression uses is documented (or is a
// standard one: up, kube-state-metrics).
func checkMetricNames(t *testing.T, where, expr string) {
	t.Helper()
	doc := documentedMetrics(t)
	names := metricRe.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: no known metric in %q", where, expr)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if n == "up" || n == "kube_pod_status_ready" || strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			continue
		}
		if !doc[base] {
			t.Errorf("%s: metric %s is not in docs/metrics.md", where, n)
		}
	}
}

var docMetricRe = regexp.MustCompile("`(switchyard_[a-z0-9_]+)`")

func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range docMetricRe.FindAllStringSubmatch(string(readRepoFile(t, "docs/metrics.md")), -1) {
		out[m[1]] = true
	}
	return out
}

func checkDashboard(t *testing.T, where, raw string) {
	t.Helper()
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("%s dashboard: not JSON: %v", where, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) < 10 {
		t.Errorf("%s dashboard: uid %q, title %q, %d panels", where, d.UID, d.Title, len(d.Panels))
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	for _, v := range []string{"datasource", "namespace", "pod"} {
		if !slices.Contains(vars, v) {
			t.Errorf("%s dashboard: no $%s variable", where, v)
		}
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("%s dashboard: panel id %d twice", where, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s dashboard: panel %q has no query", where, p.Title)
		}
		for _, q := range p.Targets {
			checkMetricNames(t, where+" dashboard panel "+p.Title, q.Expr)
			if !strings.Contains(q.Expr, `namespace="$namespace"`) {
				t.Errorf("%s dashboard panel %q ignores $namespace: %s", where, p.Title, q.Expr)
			}
			for _, n := range metricRe.FindAllString(q.Expr, -1) {
				used[strings.TrimSuffix(n, "_bucket")] = true
			}
		}
	}
	// The operator's questions: sockets, drops, ingest latency, failures.
	for _, m := range []string{"switchyard_gateway_connections", "switchyard_gateway_slow_consumer_drops_total",
		"switchyard_gateway_publish_seconds", "switchyard_session_failures_total", "switchyard_relay_commands_total"} {
		if !used[m] {
			t.Errorf("%s dashboard: no panel shows %s", where, m)
		}
	}
}

// NetworkPolicy: one per service selecting exactly its pods; the gateway's
// public port open (to gatewayFrom), the internal port only to internalFrom,
// nothing else; in-chart NATS/Redis reachable from the release's pods only.
func TestNetworkPolicy(t *testing.T) {
	seen := false
	for _, r := range allCases(t) {
		ix := newIndex(t, r)
		on := lookup(ix.values, "networkPolicy.enabled") == true
		if !on {
			if len(ix.netpols) != 0 {
				t.Errorf("%s: NetworkPolicies rendered although networkPolicy.enabled is false", r.Name)
			}
			continue
		}
		seen = true
		internalFrom := len(ix.valuesList("networkPolicy.internalFrom"))
		gatewayFrom := len(ix.valuesList("networkPolicy.gatewayFrom"))
		for svc, d := range ix.switchyardDeployments() {
			np, ok := ix.netpols[d.Name]
			if !ok {
				t.Errorf("%s: no NetworkPolicy for %s", r.Name, d.Name)
				continue
			}
			sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			for _, other := range ix.deployments {
				if sel.Matches(labels.Set(other.Spec.Template.Labels)) != (other.Name == d.Name) {
					t.Errorf("%s NetworkPolicy/%s: selects %s = %v", r.Name, np.Name, other.Name, other.Name != d.Name)
				}
			}
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				t.Errorf("%s NetworkPolicy/%s: no Ingress policy type", r.Name, np.Name)
			}
			ports := map[string]int{} // port name -> number of peers (-1 = anyone)
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port == nil || p.Port.Type != intstr.String {
						t.Errorf("%s NetworkPolicy/%s: use the named ports http/internal, got %v", r.Name, np.Name, p.Port)
						continue
					}
					if len(rule.From) == 0 {
						ports[p.Port.StrVal] = -1
					} else {
						ports[p.Port.StrVal] = len(rule.From)
					}
				}
				if len(rule.Ports) == 0 {
					t.Errorf("%s NetworkPolicy/%s: a rule without ports opens every port", r.Name, np.Name)
				}
			}
			want := map[string]int{}
			if svc == "gateway" {
				want["http"] = -1
				if gatewayFrom > 0 {
					want["http"] = gatewayFrom + 1 // + the helm test probe
				}
			}
			if internalFrom > 0 {
				want["internal"] = internalFrom
			}
			if fmt.Sprint(ports) != fmt.Sprint(want) {
				t.Errorf("%s NetworkPolicy/%s: ingress ports/peers %v, want %v", r.Name, np.Name, ports, want)
			}
			restrict := lookup(ix.values, "networkPolicy.egress.restrict") == true
			if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) != restrict {
				t.Errorf("%s NetworkPolicy/%s: Egress policy type = %v, want %v", r.Name, np.Name, !restrict, restrict)
			}
			if restrict {
				dns := false
				for _, e := range np.Spec.Egress {
					for _, p := range e.Ports {
						dns = dns || (p.Port != nil && p.Port.IntVal == 53 && len(e.To) == 0)
					}
				}
				if !dns || len(np.Spec.Egress) != 1+len(ix.valuesList("networkPolicy.egress.to")) {
					t.Errorf("%s NetworkPolicy/%s: egress %+v, want DNS plus networkPolicy.egress.to", r.Name, np.Name, np.Spec.Egress)
				}
			}
		}
		for _, dep := range []string{"nats", "redis"} {
			if lookup(ix.values, dep+".embedded.enabled") != true {
				continue
			}
			np, ok := ix.netpols[r.fullname()+"-"+dep]
			if !ok {
				t.Errorf("%s: no NetworkPolicy for the in-chart %s", r.Name, dep)
				continue
			}
			peer := np.Spec.Ingress[0].From[0].PodSelector
			sel, _ := metav1.LabelSelectorAsSelector(peer)
			for _, d := range ix.deployments {
				_, isSvc := contract[d.Spec.Template.Labels[componentLabel]]
				if sel.Matches(labels.Set(d.Spec.Template.Labels)) != isSvc {
					t.Errorf("%s NetworkPolicy/%s: lets %s in = %v", r.Name, np.Name, d.Name, !isSvc)
				}
			}
		}
	}
	if !seen {
		t.Error("no value case enables networkPolicy")
	}
}

// The extension points reach the pod spec as given.
func TestExtensionPoints(t *testing.T) {
	ix := newIndex(t, caseNamed(t, "all-features"))
	gw := ix.switchyardDeployments()["gateway"]
	pod := gw.Spec.Template.Spec
	c := pod.Containers[0]
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "wait-for-nats" {
		t.Errorf("initContainers %v", pod.InitContainers)
	}
	var extraVol, extraMount bool
	for _, v := range pod.Volumes {
		extraVol = extraVol || (v.Name == "ca-bundle" && v.ConfigMap != nil)
	}
	for _, m := range c.VolumeMounts {
		extraMount = extraMount || (m.Name == "ca-bundle" && m.MountPath == "/etc/ssl/corporate")
	}
	if !extraVol || !extraMount {
		t.Errorf("extraVolumes/extraVolumeMounts not rendered: %v %v", pod.Volumes, c.VolumeMounts)
	}
	env := ix.resolveEnv(t, "gateway", c)
	if env["HTTPS_PROXY"].Value != "http://proxy.example:3128" {
		t.Errorf("extraEnv HTTPS_PROXY = %+v", env["HTTPS_PROXY"])
	}
	var extraFrom bool
	for _, ef := range c.EnvFrom {
		extraFrom = extraFrom || (ef.SecretRef != nil && ef.SecretRef.Name == "switchyard-extra-env")
	}
	if !extraFrom {
		t.Errorf("extraEnvFrom not rendered: %v", c.EnvFrom)
	}
	tsc := pod.TopologySpreadConstraints
	if len(tsc) != 2 || tsc[0].TopologyKey != "topology.kubernetes.io/zone" || tsc[0].LabelSelector == nil {
		t.Fatalf("topologySpreadConstraints %+v", tsc)
	}
	sel, _ := metav1.LabelSelectorAsSelector(tsc[0].LabelSelector)
	if !sel.Matches(labels.Set(gw.Spec.Template.Labels)) || sel.Matches(labels.Set(ix.switchyardDeployments()["session"].Spec.Template.Labels)) {
		t.Errorf("a constraint without labelSelector must get the gateway's own selector, got %v", sel)
	}
	if got := tsc[1].LabelSelector.MatchLabels; len(got) != 1 || got[componentLabel] != "gateway" {
		t.Errorf("a given labelSelector must be kept, got %v", got)
	}
	for svc, d := range ix.switchyardDeployments() {
		tpl := d.Spec.Template
		if tpl.Annotations["example.com/owner"] != "platform" || tpl.Labels["example.com/tier"] != "realtime" {
			t.Errorf("%s: global podAnnotations/podLabels missing: %v %v", svc, tpl.Annotations, tpl.Labels)
		}
	}
	if gw.Spec.Template.Annotations["example.com/team"] != "realtime" {
		t.Error("per-service podAnnotations lost next to the global ones")
	}
}

// The push channels need a token by default; JWT settings reach the gateway only.
func TestPushAndJWTDefaults(t *testing.T) {
	ix := newIndex(t, caseNamed(t, "default"))
	for svc, d := range ix.switchyardDeployments() {
		env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
		v, has := env["SY_PUSH_REQUIRE_TOKEN"]
		if (svc == "gateway") != has || (has && v.Value != "true") {
			t.Errorf("%s: SY_PUSH_REQUIRE_TOKEN = %q (set %v), want \"true\" on the gateway only", svc, v.Value, has)
		}
		for name := range env {
			if strings.HasPrefix(name, "SY_JWT_") {
				t.Errorf("%s: %s set although no JWT is configured", svc, name)
			}
		}
	}
	ha := newIndex(t, caseNamed(t, "external-ha"))
	for svc, d := range ha.switchyardDeployments() {
		env := ha.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
		for _, name := range contract["gateway"].OptionalEnv {
			if _, has := env[name]; has != (svc == "gateway") {
				t.Errorf("external-ha %s: %s set = %v, want it on the gateway only", svc, name, has)
			}
		}
	}
}
