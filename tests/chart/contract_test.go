package chart

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// The service contract the chart is built to (fixed by the services' authors:
// pkg/config Common, services/gateway/edge Config, services/session/sessions
// Config, services/relay/routing Config, services/upload/uploads Config;
// TestContractMatchesServiceSources keeps this in step with them).
type serviceContract struct {
	Port              int32    // public port ("http"), 0 = no public traffic
	ListenEnv         string   // env var carrying the public listen address
	InternalPort      int32    // internal port ("internal"): /metrics, /healthz, /readyz, pprof
	InternalListenEnv string   // env var carrying the internal listen address
	ExtraEnv          []string // env beyond the common set, always set (Secrets included)
	OptionalEnv       []string // env the chart sets only when a feature is configured
	Secrets           []string // env that must come from a Secret
}

// commonEnv: config.Common, set on every service. SY_POD comes from the downward API.
var commonEnv = []string{"SY_POD", "SY_NATS_URL", "SY_REDIS_URL", "SY_OTLP_ENDPOINT", "SY_LOG_LEVEL", "SY_LOG_FORMAT",
	"SY_PARTITIONS", "SY_STREAM_REPLICAS", "SY_NAMESPACE", "SY_HEARTBEAT", "SY_OWNER_TTL", "SY_REQUEST_TIMEOUT"}

// sharedEnv: settings every service of a deployment must agree on (from .Values.shared).
var sharedEnv = []string{"SY_PARTITIONS", "SY_STREAM_REPLICAS", "SY_NAMESPACE", "SY_HEARTBEAT", "SY_OWNER_TTL", "SY_REQUEST_TIMEOUT"}

// commonOptionalEnv: set on every service when configured: Redis Sentinel /
// Cluster and credentials, NATS key material (file paths), GOMEMLIMIT.
var commonOptionalEnv = []string{"GOMEMLIMIT", "SY_REDIS_ADDRS", "SY_REDIS_MASTER_NAME", "SY_REDIS_CLUSTER",
	"SY_REDIS_USERNAME", "SY_REDIS_PASSWORD", "SY_REDIS_SENTINEL_PASSWORD",
	"SY_NATS_CREDS", "SY_NATS_NKEY", "SY_NATS_TLS_CA", "SY_NATS_TLS_CERT", "SY_NATS_TLS_KEY"}

// connectionSecrets: URLs may carry passwords, so they never sit in a ConfigMap.
var connectionSecrets = []string{"SY_NATS_URL", "SY_REDIS_URL"}

// optionalSecrets: when present, these come from a Secret.
var optionalSecrets = []string{"SY_REDIS_USERNAME", "SY_REDIS_PASSWORD", "SY_REDIS_SENTINEL_PASSWORD"}

// secretFileEnv: paths of files mounted from Secrets (env value = mount path + key).
var secretFileEnv = []string{"SY_NATS_CREDS", "SY_NATS_NKEY", "SY_NATS_TLS_CA", "SY_NATS_TLS_CERT", "SY_NATS_TLS_KEY", "SY_JWT_HMAC_SECRET_FILE"}

// binaryOnlyEnv: read by a binary but deliberately never set by the chart.
var binaryOnlyEnv = map[string]string{
	"SY_JWT_HMAC_SECRET": "the chart mounts the HS256 key as a file (SY_JWT_HMAC_SECRET_FILE) instead of an env var",
}

// pendingEnv: names of the contract the chart already sets but the binaries on
// this branch do not read yet (issue 14: the gateway's internal listener and
// JWT and push settings, Redis HA and NATS auth in config.Common, the upload
// service). TestContractMatchesServiceSources prints them and fails as soon as
// a binary reads one, so the entry is dropped when the service is wired.
var pendingEnv = []string{}

var contract = map[string]serviceContract{
	"gateway": {
		Port: 8080, ListenEnv: "SY_LISTEN", InternalPort: 9090, InternalListenEnv: "SY_INTERNAL_LISTEN",
		ExtraEnv: []string{"SY_DRAIN_TIMEOUT", "SY_DRAIN_JITTER", "SY_PING_PERIOD", "SY_PONG_WAIT", "SY_WRITE_WAIT",
			"SY_MAX_MESSAGE_BYTES", "SY_SEND_QUEUE_FRAMES", "SY_SEND_QUEUE_BYTES", "SY_HISTORY_PAGE", "SY_CLIENT_TOKENS",
			"SY_ADMIN_TOKENS", "SY_TOKEN_REFRESH_BEFORE", "SY_MAX_FILE_BYTES", "SY_RATE_LIMIT", "SY_RATE_BURST",
			"SY_RUNTIME_RATE_LIMIT", "SY_RUNTIME_RATE_BURST", "SY_PUSH_REQUIRE_TOKEN", "SY_PUSH_LOOPBACK_OPEN",
			"SY_PUSH_ALLOWED_ORIGINS",
			// Pre-auth and socket limits (limits.go).
			"SY_AUTH_TIMEOUT", "SY_PREAUTH_MAX_MESSAGE_BYTES", "SY_MAX_SOCKETS_PER_IP", "SY_MAX_SOCKETS_PER_PRINCIPAL",
			"SY_TRUSTED_PROXIES", "SY_READ_BUDGET_BYTES", "SY_READ_BUDGET_WAIT", "SY_INGEST_MAX_BACKLOG", "SY_INGEST_MAX_LAG",
			"SY_DIRECT_APPEND",
			// edge.ChatConfig (the Chat field): the chat stream room.
			"SY_CHAT_COMPAT_LISTEN", "SY_CHAT_DEFAULT_ENDPOINT", "SY_CHAT_ENDPOINTS", "SY_CHAT_FOLLOWUP_MODE",
			"SY_CHAT_FOLLOWUP_MODES", "SY_CHAT_ATTACHMENTS_ENABLED", "SY_CHAT_ATTACHMENTS_ALLOWED_EXTENSIONS",
			"SY_CHAT_ATTACHMENTS_MAX_BYTES", "SY_CHAT_ATTACHMENTS_MAX_FILES",
			// Device controllers.
			"SY_DEVICE_COMPAT_LISTEN", "SY_DEVICE_COMPAT_DEVICE", "SY_DEVICE_REQUEST_TIMEOUT", "SY_DEVICE_INSTALL_TIMEOUT",
			"SY_DEVICE_PAIRING_CODE_TTL", "SY_DEVICE_PAIRING_WINDOW", "SY_DEVICE_PAIRING_PER_DEVICE",
			"SY_DEVICE_PAIRING_PER_ADDR", "SY_DEVICE_SHOW_CODE", "SY_DEVICE_PROGRESS_EVERY", "SY_DEVICE_DOWNLOAD_BASE", "SY_TRACE_OUTPUT_RATIO"},
		OptionalEnv: []string{"SY_ALLOWED_ORIGINS", "SY_JWT_HMAC_SECRET_FILE", "SY_JWT_JWKS_URL", "SY_JWT_AUDIENCE", "SY_JWT_ISSUER", "SY_JWT_LEEWAY",
			"SY_JWT_JWKS_REFRESH", "SY_JWT_JWKS_MIN_REFRESH"},
		Secrets: []string{"SY_CLIENT_TOKENS", "SY_ADMIN_TOKENS"},
	},
	"session": {
		InternalPort: 9090, InternalListenEnv: "SY_HTTP_LISTEN",
		ExtraEnv: []string{"SY_ACK_WAIT", "SY_PARTITION_WINDOW", "SY_TRANSCRIPT_MAX_AGE", "SY_TRANSCRIPT_MAX_BYTES",
			"SY_PERMISSION_TIMEOUT", "SY_SESSION_IDLE", "SY_SWEEP_INTERVAL", "SY_TRANSCRIPT_MAX_MSGS_PER_SESSION",
			"SY_SEQ_FLOOR_INTERVAL", "SY_USER_MESSAGES_PER_MINUTE", "SY_USER_BYTES_PER_HOUR",
			// jobs.Config (the Jobs field): the scheduler every replica runs.
			"SY_JOB_RUN_TIMEOUT", "SY_JOB_LEASE", "SY_JOB_CATCH_UP", "SY_JOB_MAX_ATTEMPTS", "SY_JOB_RUN_RECORD_TTL"},
	},
	// The relay binary defaults to 127.0.0.1:9091; the chart uses 9090 like session.
	"relay": {
		InternalPort: 9090, InternalListenEnv: "SY_HTTP_LISTEN",
		ExtraEnv: []string{"SY_ACK_WAIT", "SY_PARTITION_WINDOW", "SY_DELIVERY_WAIT", "SY_RUNTIME_TOKENS", "SY_RUNTIME_TOKEN_TTL", "SY_RUNTIME_TOKEN_GRACE",
			"SY_ENDPOINT_OWNER_GRACE"},
		Secrets: []string{"SY_RUNTIME_TOKENS"},
	},
	// The upload binary defaults to 127.0.0.1:9092; the chart uses 9090 like session.
	"upload": {
		InternalPort: 9090, InternalListenEnv: "SY_HTTP_LISTEN",
		ExtraEnv: []string{"SY_UPLOAD_CHUNK_SIZE", "SY_UPLOAD_MAX_CHUNK", "SY_UPLOAD_MAX_FILES", "SY_UPLOAD_MAX_TOTAL_BYTES",
			"SY_UPLOAD_STORE_MAX_BYTES", "SY_UPLOAD_TOKEN_TTL", "SY_UPLOAD_EVENT_INTERVAL", "SY_UPLOAD_WORKERS"},
	},
}

// listenEnvs is the public and internal listen env of a contract.
func (c serviceContract) listenEnvs() []string {
	if c.ListenEnv == "" {
		return []string{c.InternalListenEnv}
	}
	return []string{c.ListenEnv, c.InternalListenEnv}
}

// allEnv is every env name the chart may set for the service.
func (c serviceContract) allEnv() []string {
	out := append(append(append([]string{}, commonEnv...), c.listenEnvs()...), c.ExtraEnv...)
	return append(append(out, commonOptionalEnv...), c.OptionalEnv...)
}

var (
	// Positive Go durations.
	durationEnv = []string{"SY_DRAIN_TIMEOUT", "SY_PING_PERIOD", "SY_PONG_WAIT", "SY_WRITE_WAIT", "SY_REQUEST_TIMEOUT",
		"SY_HEARTBEAT", "SY_OWNER_TTL", "SY_ACK_WAIT", "SY_DELIVERY_WAIT", "SY_TRANSCRIPT_MAX_AGE",
		"SY_TOKEN_REFRESH_BEFORE", "SY_RUNTIME_TOKEN_TTL", "SY_RUNTIME_TOKEN_GRACE", "SY_PERMISSION_TIMEOUT",
		"SY_SWEEP_INTERVAL", "SY_UPLOAD_TOKEN_TTL", "SY_UPLOAD_EVENT_INTERVAL", "SY_JWT_JWKS_REFRESH", "SY_JWT_JWKS_MIN_REFRESH",
		"SY_SEQ_FLOOR_INTERVAL", "SY_JOB_LEASE", "SY_JOB_RUN_RECORD_TTL",
		"SY_DEVICE_REQUEST_TIMEOUT", "SY_DEVICE_INSTALL_TIMEOUT", "SY_DEVICE_PAIRING_CODE_TTL", "SY_DEVICE_PAIRING_WINDOW",
		"SY_DEVICE_PROGRESS_EVERY", "SY_AUTH_TIMEOUT", "SY_READ_BUDGET_WAIT"}
	// Go durations that may be zero (0 = off for SY_SESSION_IDLE, SY_JOB_CATCH_UP; at once for SY_ENDPOINT_OWNER_GRACE).
	nonNegativeDurationEnv = []string{"SY_DRAIN_JITTER", "SY_SESSION_IDLE", "SY_JWT_LEEWAY", "SY_JOB_CATCH_UP", "SY_ENDPOINT_OWNER_GRACE", "SY_INGEST_MAX_LAG"}
	positiveInt            = []string{"SY_MAX_MESSAGE_BYTES", "SY_SEND_QUEUE_FRAMES", "SY_SEND_QUEUE_BYTES", "SY_HISTORY_PAGE",
		"SY_TRANSCRIPT_MAX_BYTES", "SY_PARTITIONS", "SY_STREAM_REPLICAS", "SY_MAX_FILE_BYTES", "SY_RATE_BURST",
		"SY_RUNTIME_RATE_BURST", "SY_UPLOAD_CHUNK_SIZE", "SY_UPLOAD_MAX_CHUNK", "SY_UPLOAD_MAX_FILES",
		"SY_UPLOAD_MAX_TOTAL_BYTES", "SY_UPLOAD_WORKERS", "SY_JOB_MAX_ATTEMPTS", "SY_DEVICE_PAIRING_PER_DEVICE",
		"SY_DEVICE_PAIRING_PER_ADDR", "SY_CHAT_ATTACHMENTS_MAX_BYTES", "SY_PREAUTH_MAX_MESSAGE_BYTES"}
	// Integers >= 0 (0 = no limit) and >= -1 (-1 = no cap).
	nonNegativeInt = []string{"SY_USER_MESSAGES_PER_MINUTE", "SY_USER_BYTES_PER_HOUR", "SY_CHAT_ATTACHMENTS_MAX_FILES",
		"SY_MAX_SOCKETS_PER_IP", "SY_MAX_SOCKETS_PER_PRINCIPAL", "SY_READ_BUDGET_BYTES", "SY_INGEST_MAX_BACKLOG"}
	minusOneOrMoreInt = []string{"SY_TRANSCRIPT_MAX_MSGS_PER_SESSION", "SY_UPLOAD_STORE_MAX_BYTES"}
	// Booleans the binaries parse (strconv.ParseBool; the chart writes true/false).
	boolEnv = []string{"SY_DIRECT_APPEND", "SY_PUSH_REQUIRE_TOKEN", "SY_PUSH_LOOPBACK_OPEN", "SY_CHAT_ATTACHMENTS_ENABLED", "SY_DEVICE_SHOW_CODE"}
	// Listen addresses that may be empty (compatibility listeners off).
	optionalListenEnv = []string{"SY_CHAT_COMPAT_LISTEN", "SY_DEVICE_COMPAT_LISTEN"}
	listenRe          = regexp.MustCompile(`^0\.0\.0\.0:[1-9][0-9]{0,4}$`)
	// Plain decimal numbers >= 0 (float64 in the binary; 0 = limit off).
	nonNegativeNumberEnv = []string{"SY_RATE_LIMIT", "SY_RUNTIME_RATE_LIMIT"}
	decimalRe            = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	// Inclusive ranges the binaries (or JetStream) accept.
	intRange    = map[string][2]int64{"SY_PARTITIONS": {1, 1024}, "SY_STREAM_REPLICAS": {1, 5}}
	tokenListRe = regexp.MustCompile(`^([^=,\s]+=[^=,\s]+)(,[^=,\s]+=[^=,\s]+)*$`)
)

const componentLabel = "app.kubernetes.io/component"

// env is a resolved container environment: literal values (also from
// ConfigMaps via envFrom) and references.
type envVar struct {
	Value     string
	FieldPath string
	SecretRef *corev1.SecretKeySelector
}

// index gives typed access to one rendering.
type index struct {
	r            *rendered
	deployments  map[string]*appsv1.Deployment
	statefulsets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs         map[string]*policyv1.PodDisruptionBudget
	ingresses    map[string]*networkingv1.Ingress
	netpols      map[string]*networkingv1.NetworkPolicy
	httpRoutes   map[string]*gatewayv1.HTTPRoute
	pods         map[string]*corev1.Pod
	values       map[string]any // the case's values file (not merged), for intent checks
}

func newIndex(t *testing.T, r *rendered) *index {
	t.Helper()
	ix := &index{r: r,
		deployments: map[string]*appsv1.Deployment{}, statefulsets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, ingresses: map[string]*networkingv1.Ingress{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, httpRoutes: map[string]*gatewayv1.HTTPRoute{},
		pods: map[string]*corev1.Pod{}, values: map[string]any{},
	}
	for _, o := range r.Objects {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			ix.deployments[o.Name] = v
		case *appsv1.StatefulSet:
			ix.statefulsets[o.Name] = v
		case *corev1.Service:
			ix.services[o.Name] = v
		case *corev1.ConfigMap:
			ix.configMaps[o.Name] = v
		case *corev1.Secret:
			ix.secrets[o.Name] = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			ix.hpas[o.Name] = v
		case *policyv1.PodDisruptionBudget:
			ix.pdbs[o.Name] = v
		case *networkingv1.Ingress:
			ix.ingresses[o.Name] = v
		case *corev1.Pod:
			ix.pods[o.Name] = v
		case *networkingv1.NetworkPolicy:
			ix.netpols[o.Name] = v
		case *gatewayv1.HTTPRoute:
			ix.httpRoutes[o.Name] = v
		}
	}
	if r.ValuesFile != "" {
		if err := yaml.Unmarshal(readAbs(t, r.ValuesFile), &ix.values); err != nil {
			t.Fatal(err)
		}
	}
	return ix
}

// switchyardDeployments returns service name -> Deployment for the contract services.
func (ix *index) switchyardDeployments() map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for _, d := range ix.deployments {
		if _, ok := contract[d.Spec.Template.Labels[componentLabel]]; ok {
			out[d.Spec.Template.Labels[componentLabel]] = d
		}
	}
	return out
}

func (ix *index) usesExistingSecret() bool {
	return lookup(ix.values, "tokens.existingSecret") != nil && lookup(ix.values, "tokens.existingSecret") != ""
}

// resolveEnv flattens env and envFrom (ConfigMaps must be rendered).
func (ix *index) resolveEnv(t *testing.T, where string, c corev1.Container) map[string]envVar {
	t.Helper()
	env := map[string]envVar{}
	for _, ef := range c.EnvFrom {
		if ef.Prefix != "" {
			t.Errorf("%s: envFrom prefix %q makes env names unpredictable", where, ef.Prefix)
		}
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := ix.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				// The user's own source (extraEnvFrom): its names are unknown here.
				if !ix.isExtraEnvFrom(ef) {
					t.Errorf("%s: envFrom ConfigMap %q is not rendered", where, ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				env[k] = envVar{Value: v}
			}
		case ef.SecretRef != nil && ix.isExtraEnvFrom(ef):
		default:
			t.Errorf("%s: only envFrom configMapRef (and extraEnvFrom) is expected", where)
		}
	}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s: env %s set twice (env and envFrom)", where, e.Name)
		}
		v := envVar{Value: e.Value}
		if e.ValueFrom != nil {
			if e.ValueFrom.FieldRef != nil {
				v.FieldPath = e.ValueFrom.FieldRef.FieldPath
			}
			v.SecretRef = e.ValueFrom.SecretKeyRef
			// A Secret the chart renders: its value, to check like any other.
			if ref := v.SecretRef; ref != nil {
				if sec, ok := ix.secrets[ref.Name]; ok {
					v.Value = sec.StringData[ref.Key]
				}
			}
		}
		env[e.Name] = v
	}
	return env
}

func TestServicesFollowContract(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			deps := ix.switchyardDeployments()
			if len(deps) == 0 {
				t.Fatal("no switchyard Deployments rendered")
			}
			if _, ok := deps["gateway"]; !ok {
				t.Fatal("no gateway Deployment rendered")
			}
			for svcName, d := range deps {
				checkServiceDeployment(t, ix, svcName, d)
			}
		})
	}
}

var imageRe = regexp.MustCompile(`^(?:[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)*/)?switchyard/([a-z0-9-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$`)

func checkServiceDeployment(t *testing.T, ix *index, svcName string, d *appsv1.Deployment) {
	t.Helper()
	want := contract[svcName]
	where := "Deployment/" + d.Name
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: want exactly one container, got %d", where, len(pod.Containers))
	}
	c := pod.Containers[0]
	where += "/" + c.Name

	checkSelectorMatchesTemplate(t, where, d.Spec.Selector, d.Spec.Template.Labels)
	checkContainerBasics(t, where, c)

	// Image switchyard/<svc>:<tag>, optionally behind a registry.
	if m := imageRe.FindStringSubmatch(c.Image); m == nil || m[1] != svcName {
		t.Errorf("%s: image %q, want [registry/]switchyard/%s:<tag>", where, c.Image, svcName)
	}

	// Ports and listen addresses: the public one (gateway) and the internal one.
	wantPort, wantInternal := want.Port, want.InternalPort
	if p, ok := lookup(ix.values, "services."+svcName+".internalPort").(float64); ok && want.Port != 0 {
		wantInternal = int32(p)
	}
	if port := containerPort(c, "http"); port != wantPort {
		t.Errorf("%s: container port http = %d, want %d", where, port, wantPort)
	}
	if port := containerPort(c, "internal"); port != wantInternal || port == 0 {
		t.Errorf("%s: container port internal = %d, want %d", where, port, wantInternal)
	}
	if len(c.Ports) != map[bool]int{true: 2, false: 1}[want.Port != 0] {
		t.Errorf("%s: ports %v, want only http (public services) and internal", where, c.Ports)
	}

	env := ix.resolveEnv(t, where, c)
	required := append(append(append([]string{}, commonEnv...), want.listenEnvs()...), want.ExtraEnv...)
	allowed := append(want.allEnv(), ix.extraEnvNames(svcName)...)
	for name := range env {
		if !slices.Contains(allowed, name) {
			t.Errorf("%s: env %s is not in the service contract", where, name)
		}
	}
	for _, name := range required {
		if _, ok := env[name]; !ok {
			t.Errorf("%s: env %s missing", where, name)
		}
	}
	if want.ListenEnv != "" {
		if got := env[want.ListenEnv].Value; got != "0.0.0.0:"+strconv.Itoa(int(wantPort)) {
			t.Errorf("%s: %s = %q, want 0.0.0.0:%d (the binary default 127.0.0.1 is unreachable)", where, want.ListenEnv, got, wantPort)
		}
	}
	if got := env[want.InternalListenEnv].Value; got != "0.0.0.0:"+strconv.Itoa(int(wantInternal)) {
		t.Errorf("%s: %s = %q, want 0.0.0.0:%d", where, want.InternalListenEnv, got, wantInternal)
	}
	checkConnectionEnv(t, ix, where, env)
	checkSecretFiles(t, ix, where, d, env)
	checkGoMemLimit(t, ix, where, c, env)
	if env["SY_POD"].FieldPath != "metadata.name" {
		t.Errorf("%s: SY_POD must come from the downward API metadata.name", where)
	}
	if v := env["SY_NATS_URL"]; v.Value != "" || !ix.fromExistingSecret(v) {
		if u, err := url.Parse(v.Value); err != nil || !slices.Contains([]string{"nats", "tls"}, u.Scheme) || u.Host == "" {
			t.Errorf("%s: SY_NATS_URL %q is not a nats:// URL", where, v.Value)
		}
	}
	if v := env["SY_REDIS_URL"]; v.Value != "" || !ix.fromExistingSecret(v) {
		if u, err := url.Parse(v.Value); err != nil || !slices.Contains([]string{"redis", "rediss"}, u.Scheme) || u.Host == "" {
			t.Errorf("%s: SY_REDIS_URL %q is not a redis:// URL", where, v.Value)
		}
	}
	if v := env["SY_OTLP_ENDPOINT"].Value; v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Errorf("%s: SY_OTLP_ENDPOINT %q is not an http(s) base URL", where, v)
		}
	}
	if v := env["SY_LOG_LEVEL"].Value; !slices.Contains([]string{"debug", "info", "warn", "error"}, v) {
		t.Errorf("%s: SY_LOG_LEVEL %q", where, v)
	}
	if v := env["SY_LOG_FORMAT"].Value; v != "json" && v != "text" {
		t.Errorf("%s: SY_LOG_FORMAT %q", where, v)
	}
	for _, name := range durationEnv {
		if v, ok := env[name]; ok {
			if d, err := time.ParseDuration(v.Value); err != nil || d <= 0 {
				t.Errorf("%s: %s = %q is not a positive Go duration", where, name, v.Value)
			}
		}
	}
	for _, name := range nonNegativeDurationEnv {
		if v, ok := env[name]; ok {
			if d, err := time.ParseDuration(v.Value); err != nil || d < 0 {
				t.Errorf("%s: %s = %q is not a non-negative Go duration", where, name, v.Value)
			}
		}
	}
	for _, name := range nonNegativeNumberEnv {
		if v, ok := env[name]; ok && !decimalRe.MatchString(v.Value) {
			t.Errorf("%s: %s = %q is not a non-negative decimal number (no exponent)", where, name, v.Value)
		}
	}
	for _, name := range nonNegativeInt {
		if v, ok := env[name]; ok {
			if n, err := strconv.ParseInt(v.Value, 10, 64); err != nil || n < 0 {
				t.Errorf("%s: %s = %q is not an integer >= 0", where, name, v.Value)
			}
		}
	}
	for _, name := range minusOneOrMoreInt {
		if v, ok := env[name]; ok {
			if n, err := strconv.ParseInt(v.Value, 10, 64); err != nil || n < -1 {
				t.Errorf("%s: %s = %q is not an integer >= -1", where, name, v.Value)
			}
		}
	}
	for _, name := range boolEnv {
		if v, ok := env[name]; ok && v.Value != "true" && v.Value != "false" {
			t.Errorf("%s: %s = %q, want true or false", where, name, v.Value)
		}
	}
	for _, name := range optionalListenEnv {
		if v, ok := env[name]; ok && v.Value != "" && !listenRe.MatchString(v.Value) {
			t.Errorf("%s: %s = %q, want empty (off) or 0.0.0.0:<port>", where, name, v.Value)
		}
	}
	// The shipped value sets keep loopback readers unprivileged: in a pod,
	// port-forwards and mesh sidecars arrive from loopback.
	if v := env["SY_PUSH_LOOPBACK_OPEN"].Value; svcName == "gateway" && v != "false" && slices.Contains([]string{"default", "dev", "production"}, ix.r.Name) {
		t.Errorf("%s: SY_PUSH_LOOPBACK_OPEN = %q in %s, want false", where, v, ix.r.Name)
	}
	for _, name := range positiveInt {
		if v, ok := env[name]; ok {
			n, err := strconv.ParseInt(v.Value, 10, 64)
			if err != nil || n <= 0 {
				t.Errorf("%s: %s = %q is not a positive integer", where, name, v.Value)
			}
			if r, ok := intRange[name]; ok && (n < r[0] || n > r[1]) {
				t.Errorf("%s: %s = %d, want %d..%d", where, name, n, r[0], r[1])
			}
		}
	}
	// Cross-field rules the binaries enforce at startup (Validate).
	durOf := func(name string) time.Duration { d, _ := time.ParseDuration(env[name].Value); return d }
	if _, ok := env["SY_PONG_WAIT"]; ok && durOf("SY_PONG_WAIT") <= durOf("SY_PING_PERIOD") {
		t.Errorf("%s: SY_PONG_WAIT %s must exceed SY_PING_PERIOD %s", where, durOf("SY_PONG_WAIT"), durOf("SY_PING_PERIOD"))
	}
	_, hasTTL := env["SY_OWNER_TTL"]
	if _, hasHB := env["SY_HEARTBEAT"]; hasTTL && hasHB && durOf("SY_OWNER_TTL") <= durOf("SY_HEARTBEAT") {
		t.Errorf("%s: SY_OWNER_TTL %s must exceed SY_HEARTBEAT %s", where, durOf("SY_OWNER_TTL"), durOf("SY_HEARTBEAT"))
	}
	if _, ok := env["SY_DRAIN_JITTER"]; ok && durOf("SY_DRAIN_JITTER") > durOf("SY_DRAIN_TIMEOUT") {
		t.Errorf("%s: SY_DRAIN_JITTER %s must not exceed SY_DRAIN_TIMEOUT %s", where, durOf("SY_DRAIN_JITTER"), durOf("SY_DRAIN_TIMEOUT"))
	}
	// Every env that comes from a Secret is in the contract's Secrets list
	// (or a connection secret), and the reverse.
	for name, v := range env {
		if v.SecretRef != nil && !slices.Contains(want.Secrets, name) && !slices.Contains(connectionSecrets, name) &&
			!slices.Contains(optionalSecrets, name) && !slices.Contains(ix.extraEnvNames(svcName), name) {
			t.Errorf("%s: %s comes from Secret %s but is not a secret of %s", where, name, v.SecretRef.Name, svcName)
		}
	}
	for _, name := range want.Secrets {
		ref := env[name].SecretRef
		if ref == nil {
			t.Errorf("%s: %s must come from a Secret", where, name)
			continue
		}
		if ref.Key != name {
			t.Errorf("%s: %s from Secret key %q, want %q", where, name, ref.Key, name)
		}
		sec, ok := ix.secrets[ref.Name]
		switch {
		case !ok && !ix.usesExistingSecret():
			t.Errorf("%s: Secret %q is neither rendered nor tokens.existingSecret", where, ref.Name)
		case ok:
			v, has := sec.StringData[ref.Key]
			if !has {
				t.Errorf("%s: Secret %q has no key %q", where, ref.Name, ref.Key)
			}
			if v != "" && !tokenListRe.MatchString(v) {
				t.Errorf("%s: Secret %s/%s = %q is not a comma list of token=id", where, ref.Name, ref.Key, v)
			}
		}
	}

	// Probes on the real endpoints of the internal port.
	checkHTTPProbe(t, where+" liveness", c, c.LivenessProbe, "/healthz", wantInternal)
	checkHTTPProbe(t, where+" readiness", c, c.ReadinessProbe, "/readyz", wantInternal)

	// Security.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", where)
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser != 65532 {
		t.Errorf("%s: runAsUser %d, the images run as 65532", where, *psc.RunAsUser)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false", where)
	}
	csc := c.SecurityContext
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	}
	if csc == nil || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, corev1.Capability("ALL")) {
		t.Errorf("%s: capabilities must drop ALL", where)
	}

	// Shutdown: grace >= drain timeout + preStop sleep.
	var sleep int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Exec != nil || c.Lifecycle.PreStop.HTTPGet != nil {
			t.Errorf("%s: preStop must be the sleep action only (distroless has no shell)", where)
		} else {
			sleep = c.Lifecycle.PreStop.Sleep.Seconds
		}
	}
	var drain time.Duration
	if v, ok := env["SY_DRAIN_TIMEOUT"]; ok {
		drain, _ = time.ParseDuration(v.Value)
	}
	if svcName == "gateway" {
		if sleep <= 0 {
			t.Errorf("%s: the gateway needs a preStop sleep so endpoints drop it before SIGTERM", where)
		}
		if drain <= 0 {
			t.Errorf("%s: SY_DRAIN_TIMEOUT must be set", where)
		}
	}
	grace := int64(30)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	if need := int64(drain/time.Second) + sleep; grace < need {
		t.Errorf("%s: terminationGracePeriodSeconds %d < SY_DRAIN_TIMEOUT %s + preStop sleep %ds", where, grace, drain, sleep)
	}

	// Replicas: none while an HPA owns the Deployment.
	hpa := ix.hpaFor(d.Name)
	if hpa != nil && d.Spec.Replicas != nil {
		t.Errorf("%s: spec.replicas is set although HPA %s scales it (every upgrade would reset the scale)", where, hpa.Name)
	}
	if hpa == nil && (d.Spec.Replicas == nil || *d.Spec.Replicas < 1) {
		t.Errorf("%s: replicas must be >= 1 without an HPA", where)
	}
}

func (ix *index) hpaFor(deployment string) *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range ix.hpas {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == deployment {
			return h
		}
	}
	return nil
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// resolvePort maps a named or numbered port to the container's port number (0 = none).
func resolvePort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.String {
		return containerPort(c, p.StrVal)
	}
	for _, cp := range c.Ports {
		if cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func checkHTTPProbe(t *testing.T, where string, c corev1.Container, p *corev1.Probe, path string, port int32) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: want an httpGet probe on %s", where, path)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: path %q, want %q", where, p.HTTPGet.Path, path)
	}
	if got := resolvePort(c, p.HTTPGet.Port); got != port {
		t.Errorf("%s: port %s resolves to %d, want %d", where, p.HTTPGet.Port.String(), got, port)
	}
	if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("%s: scheme %s, the services serve plain HTTP", where, p.HTTPGet.Scheme)
	}
}

// checkContainerBasics: resources and both probes, pinned image; for every
// container of every workload (switchyard, in-chart NATS/Redis, k8s/dev).
func checkContainerBasics(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	req := c.Resources.Requests
	if req.Cpu().IsZero() || req.Memory().IsZero() {
		t.Errorf("%s: resources.requests.cpu and .memory are required", where)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources.limits.memory is required", where)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Errorf("%s: liveness and readiness probes are required", where)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil {
			continue
		}
		switch {
		case p.HTTPGet != nil:
			if resolvePort(c, p.HTTPGet.Port) == 0 {
				t.Errorf("%s: probe port %s is not a container port", where, p.HTTPGet.Port.String())
			}
		case p.TCPSocket != nil:
			if resolvePort(c, p.TCPSocket.Port) == 0 {
				t.Errorf("%s: probe port %s is not a container port", where, p.TCPSocket.Port.String())
			}
		case p.Exec != nil, p.GRPC != nil:
		default:
			t.Errorf("%s: probe without a handler", where)
		}
	}
	if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("%s: image %q must carry a tag other than latest", where, c.Image)
	}
}

func checkSelectorMatchesTemplate(t *testing.T, where string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		t.Errorf("%s: bad or empty selector: %v", where, err)
		return
	}
	if !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %s does not match pod template labels %v", where, s, podLabels)
	}
}

func containersOf(o Object) []corev1.Container {
	switch v := o.Obj.(type) {
	case *appsv1.Deployment:
		return v.Spec.Template.Spec.Containers
	case *appsv1.StatefulSet:
		return v.Spec.Template.Spec.Containers
	}
	return nil
}

// Every workload container (also NATS/Redis) has resources, probes and a pinned image;
// in-chart NATS/Redis use the images and flags the docs promise.
func TestAllWorkloadContainers(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			for _, o := range r.Objects {
				for _, c := range containersOf(o) {
					checkContainerBasics(t, o.ID()+"/"+c.Name, c)
				}
				d, ok := o.Obj.(*appsv1.Deployment)
				if !ok {
					continue
				}
				checkSelectorMatchesTemplate(t, o.ID(), d.Spec.Selector, d.Spec.Template.Labels)
				c := d.Spec.Template.Spec.Containers[0]
				switch d.Spec.Template.Labels[componentLabel] {
				case "nats":
					if c.Image != "nats:2.12-alpine" || !slices.Contains(c.Args, "-js") || !strings.Contains(strings.Join(c.Args, " "), "-sd /data") {
						t.Errorf("%s: in-chart NATS must run nats:2.12-alpine -js -sd /data, got %s %v", o.ID(), c.Image, c.Args)
					}
				case "redis":
					if c.Image != "redis:7-alpine" {
						t.Errorf("%s: in-chart Redis image %s, want redis:7-alpine", o.ID(), c.Image)
					}
				}
			}
		})
	}
}

// Every Service selects exactly one rendered workload and targets a real port.
func TestServicesSelectAndTarget(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			for _, s := range ix.services {
				sel := labels.SelectorFromSet(s.Spec.Selector)
				var matched []*appsv1.Deployment
				for _, d := range ix.deployments {
					if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
						matched = append(matched, d)
					}
				}
				if len(s.Spec.Selector) == 0 || len(matched) != 1 {
					t.Errorf("Service/%s: selector %v matches %d Deployments, want 1", s.Name, s.Spec.Selector, len(matched))
					continue
				}
				c := matched[0].Spec.Template.Spec.Containers[0]
				for _, p := range s.Spec.Ports {
					if resolvePort(c, p.TargetPort) == 0 {
						t.Errorf("Service/%s port %s: targetPort %s is not a port of %s", s.Name, p.Name, p.TargetPort.String(), matched[0].Name)
					}
				}
			}
			gw := ix.switchyardDeployments()["gateway"]
			svc, ok := ix.services[gw.Name]
			if !ok {
				t.Fatalf("no Service %s for the gateway", gw.Name)
			}
			if len(svc.Spec.Ports) != 1 || resolvePort(gw.Spec.Template.Spec.Containers[0], svc.Spec.Ports[0].TargetPort) != contract["gateway"].Port {
				t.Errorf("Service/%s must target the gateway container port %d", svc.Name, contract["gateway"].Port)
			}
			wantPort := int32(80)
			if p, ok := lookup(ix.values, "services.gateway.service.port").(float64); ok {
				wantPort = int32(p)
			}
			if svc.Spec.Ports[0].Port != wantPort {
				t.Errorf("Service/%s port %d, want %d", svc.Name, svc.Spec.Ports[0].Port, wantPort)
			}
			if st, _ := lookup(ix.values, "services.gateway.service.type").(string); st == "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("Service/%s type %s, want ClusterIP by default", svc.Name, svc.Spec.Type)
			}
		})
	}
}

func TestAutoscalingAndDisruptionBudgets(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			for _, h := range ix.hpas {
				ref := h.Spec.ScaleTargetRef
				d, ok := ix.deployments[ref.Name]
				if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !ok {
					t.Errorf("HPA/%s targets %s %s/%s, not a rendered Deployment", h.Name, ref.APIVersion, ref.Kind, ref.Name)
					continue
				}
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
					t.Errorf("HPA/%s: bad min/max replicas", h.Name)
				}
				var cpu bool
				for _, m := range h.Spec.Metrics {
					switch m.Type {
					case autoscalingv2.ResourceMetricSourceType:
						cpu = cpu || (m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil)
					case autoscalingv2.PodsMetricSourceType:
						if m.Pods.Metric.Name != "switchyard_gateway_connections" || m.Pods.Target.AverageValue == nil {
							t.Errorf("HPA/%s: Pods metric %q, want switchyard_gateway_connections with an averageValue", h.Name, m.Pods.Metric.Name)
						}
						if d.Spec.Template.Labels[componentLabel] != "gateway" {
							t.Errorf("HPA/%s: the connections metric only exists on the gateway", h.Name)
						}
					default:
						t.Errorf("HPA/%s: unexpected metric type %s", h.Name, m.Type)
					}
				}
				if !cpu {
					t.Errorf("HPA/%s: want a CPU utilization metric", h.Name)
				}
			}
			for _, p := range ix.pdbs {
				sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err != nil || sel.Empty() {
					t.Errorf("PDB/%s: bad selector", p.Name)
					continue
				}
				var matched []string
				for _, d := range ix.deployments {
					if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
						matched = append(matched, d.Name)
					}
				}
				if len(matched) != 1 || matched[0] != p.Name {
					t.Errorf("PDB/%s: selector matches Deployments %v, want exactly [%s]", p.Name, matched, p.Name)
				}
				if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
					t.Errorf("PDB/%s: set exactly one of minAvailable/maxUnavailable", p.Name)
				}
			}
			gw := ix.switchyardDeployments()["gateway"]
			wantPDB := lookup(ix.values, "services.gateway.pdb.enabled") != false
			if _, ok := ix.pdbs[gw.Name]; ok != wantPDB {
				t.Errorf("gateway PDB rendered = %v, want %v", ok, wantPDB)
			}
			wantHPA := lookup(ix.values, "services.gateway.autoscaling.enabled") == true
			if (ix.hpaFor(gw.Name) != nil) != wantHPA {
				t.Errorf("gateway HPA rendered = %v, want %v", ix.hpaFor(gw.Name) != nil, wantHPA)
			}
		})
	}
	// The production example is the documented HPA + PDB + Pods-metric setup.
	ix := newIndex(t, caseNamed(t, "production"))
	gw := ix.switchyardDeployments()["gateway"]
	h := ix.hpaFor(gw.Name)
	if h == nil {
		t.Fatal("production: no gateway HPA")
	}
	var pods bool
	for _, m := range h.Spec.Metrics {
		pods = pods || m.Type == autoscalingv2.PodsMetricSourceType
	}
	if !pods {
		t.Error("production: gateway HPA without the switchyard_gateway_connections Pods metric")
	}
	if _, ok := ix.pdbs[gw.Name]; !ok {
		t.Error("production: no gateway PDB")
	}
}

func TestIngress(t *testing.T) {
	seen := false
	for _, r := range allCases(t) {
		ix := newIndex(t, r)
		for _, ing := range ix.ingresses {
			seen = true
			where := r.Name + " Ingress/" + ing.Name
			if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == "nginx" {
				for _, a := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
					if n, err := strconv.Atoi(ing.Annotations[a]); err != nil || n < 3600 {
						t.Errorf("%s: %s = %q, want >= 3600 for long-lived WebSockets", where, a, ing.Annotations[a])
					}
				}
			}
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					b := p.Backend.Service
					svc, ok := ix.services[b.Name]
					if !ok {
						t.Errorf("%s: backend Service %q not rendered", where, b.Name)
						continue
					}
					if svc.Spec.Selector[componentLabel] != "gateway" {
						t.Errorf("%s: backend %s is not the gateway", where, b.Name)
					}
					found := false
					for _, sp := range svc.Spec.Ports {
						found = found || (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
					}
					if !found {
						t.Errorf("%s: backend port %+v not on Service %s", where, b.Port, b.Name)
					}
				}
			}
		}
	}
	if !seen {
		t.Fatal("no value case renders an Ingress (production.yaml should)")
	}
}

// The helm test hook does a WebSocket round trip through the gateway Service.
func TestHelmTestProbe(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			var probes []*corev1.Pod
			for _, p := range ix.pods {
				if p.Annotations["helm.sh/hook"] == "test" {
					probes = append(probes, p)
				} else {
					t.Errorf("Pod/%s is not a helm test hook", p.Name)
				}
			}
			wantProbe := lookup(ix.values, "tests.enabled") != false &&
				(lookup(ix.values, "tokens.client") != nil || ix.usesExistingSecret())
			if (len(probes) == 1) != wantProbe || len(probes) > 1 {
				t.Fatalf("%d helm test pods, want probe=%v", len(probes), wantProbe)
			}
			if !wantProbe {
				return
			}
			p := probes[0]
			if p.Spec.RestartPolicy != corev1.RestartPolicyNever || p.Spec.ActiveDeadlineSeconds == nil {
				t.Errorf("Pod/%s: want restartPolicy Never and an activeDeadlineSeconds", p.Name)
			}
			c := p.Spec.Containers[0]
			if m := imageRe.FindStringSubmatch(c.Image); m == nil || m[1] != "gateway" {
				t.Errorf("Pod/%s: image %q, want the switchyard/gateway image", p.Name, c.Image)
			}
			if len(c.Command) != 0 {
				t.Errorf("Pod/%s: command must stay the image ENTRYPOINT (sy-gateway)", p.Name)
			}
			if len(c.Args) != 3 || c.Args[0] != "probe" || c.Args[1] != "--url" {
				t.Fatalf("Pod/%s: args %q, want [probe --url ws://...]", p.Name, c.Args)
			}
			gw := ix.switchyardDeployments()["gateway"]
			svc := ix.services[gw.Name]
			u, err := url.Parse(c.Args[2])
			if err != nil {
				t.Fatal(err)
			}
			wantHost := gw.Name + "." + namespace + ".svc:" + strconv.Itoa(int(svc.Spec.Ports[0].Port))
			if u.Scheme != "ws" || u.Host != wantHost || u.Path != "/ws/client" || u.Query().Get("token") != "$(SY_PROBE_TOKEN)" {
				t.Errorf("Pod/%s: url %s, want ws://%s/ws/client?token=$(SY_PROBE_TOKEN)", p.Name, c.Args[2], wantHost)
			}
			var ref *corev1.SecretKeySelector
			for _, e := range c.Env {
				if e.Name == "SY_PROBE_TOKEN" && e.ValueFrom != nil {
					ref = e.ValueFrom.SecretKeyRef
				}
			}
			if ref == nil || ref.Key != "SY_PROBE_TOKEN" {
				t.Fatalf("Pod/%s: SY_PROBE_TOKEN must come from the tokens Secret", p.Name)
			}
			if sec, ok := ix.secrets[ref.Name]; ok {
				tok := sec.StringData["SY_PROBE_TOKEN"]
				clients := strings.Split(sec.StringData["SY_CLIENT_TOKENS"], ",")
				if tok == "" || !slices.ContainsFunc(clients, func(e string) bool { return strings.HasPrefix(e, tok+"=") }) {
					t.Errorf("Secret/%s: probe token %q is not one of the client tokens", sec.Name, tok)
				}
			} else if !ix.usesExistingSecret() {
				t.Errorf("Pod/%s: Secret %s not rendered", p.Name, ref.Name)
			}
		})
	}
}

// lookup walks a dotted path in decoded YAML (nil when absent).
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur, ok = mm[k]
		if !ok {
			return nil
		}
	}
	return cur
}

// maxPayloadRe reads max_payload from a NATS config file (bytes, or with a
// decimal/binary unit as nats-server accepts them).
var maxPayloadRe = regexp.MustCompile(`(?m)^\s*max_payload\s*[:=]\s*([0-9]+)\s*([KMG]i?B?)?\s*$`)

// The in-chart NATS carries upload chunks (1 MiB + header): it runs with a
// chart-written config file whose max_payload is 16 MiB, like pkg/embedded.
func TestEmbeddedNATSMaxPayload(t *testing.T) {
	seen := false
	for _, r := range allCases(t) {
		ix := newIndex(t, r)
		for _, d := range ix.deployments {
			if d.Spec.Template.Labels[componentLabel] != "nats" {
				continue
			}
			seen = true
			where := r.Name + " Deployment/" + d.Name
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			i := slices.Index(c.Args, "-c")
			if i < 0 || i+1 >= len(c.Args) {
				t.Errorf("%s: args %v, want -c <config file>", where, c.Args)
				continue
			}
			conf := c.Args[i+1]
			var cmName string
			for _, m := range c.VolumeMounts {
				if !strings.HasPrefix(conf, strings.TrimSuffix(m.MountPath, "/")+"/") {
					continue
				}
				for _, v := range pod.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil {
						cmName = v.ConfigMap.Name
					}
				}
			}
			cm, ok := ix.configMaps[cmName]
			if !ok {
				t.Errorf("%s: %s is not mounted from a rendered ConfigMap", where, conf)
				continue
			}
			m := maxPayloadRe.FindStringSubmatch(cm.Data[conf[strings.LastIndex(conf, "/")+1:]])
			if m == nil {
				t.Errorf("%s: ConfigMap/%s sets no max_payload", where, cmName)
				continue
			}
			n, _ := strconv.ParseInt(m[1], 10, 64)
			unit := map[string]int64{"": 1, "K": 1000, "KB": 1000, "M": 1000 * 1000, "MB": 1000 * 1000, "G": 1000 * 1000 * 1000, "GB": 1000 * 1000 * 1000,
				"Ki": 1 << 10, "KiB": 1 << 10, "Mi": 1 << 20, "MiB": 1 << 20, "Gi": 1 << 30, "GiB": 1 << 30}[m[2]]
			// nats-server reads "16MB" as 16 MiB; at least 16 MB either way, at most NATS's 64 MB.
			if b := n * unit; b < 16*1000*1000 || b > 64<<20 {
				t.Errorf("%s: max_payload %s%s, want 16MB (upload chunks are 1 MiB + header)", where, m[1], m[2])
			}
			if d.Spec.Template.Annotations["checksum/config"] == "" {
				t.Errorf("%s: no checksum/config annotation: a config change would not restart NATS", where)
			}
		}
	}
	if !seen {
		t.Fatal("no value case renders the in-chart NATS (dev and all-features should)")
	}
}
