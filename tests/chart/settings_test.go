package chart

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var allServices = []string{"gateway", "session", "relay", "upload"}

// valueEnv is one value of the chart that becomes an env var of some services.
// docs/kubernetes.md has a table row for each (TestDocsListEveryValue).
type valueEnv struct {
	Key      string   // dotted values path
	Env      string   // env var
	Services []string // services whose container gets it
	Override any      // a non-default value for TestValuesReachEnv
	Want     string   // the env value Override must produce
}

var valueEnvTable = []valueEnv{
	{"log.level", "SY_LOG_LEVEL", allServices, "warn", "warn"},
	{"log.format", "SY_LOG_FORMAT", allServices, "text", "text"},
	{"nats.url", "SY_NATS_URL", allServices, "nats://nats.example:4222", "nats://nats.example:4222"},
	{"redis.url", "SY_REDIS_URL", allServices, "rediss://redis.example:6380/2", "rediss://redis.example:6380/2"},
	{"otlp.endpoint", "SY_OTLP_ENDPOINT", allServices, "http://otel:4318", "http://otel:4318"},
	{"shared.partitions", "SY_PARTITIONS", allServices, 64, "64"},
	{"shared.streamReplicas", "SY_STREAM_REPLICAS", allServices, 3, "3"},
	{"shared.namespace", "SY_NAMESPACE", allServices, "blue", "blue"},
	{"shared.heartbeat", "SY_HEARTBEAT", allServices, "2s", "2s"},
	{"shared.ownerTTL", "SY_OWNER_TTL", allServices, "7s", "7s"},
	{"shared.requestTimeout", "SY_REQUEST_TIMEOUT", allServices, "45s", "45s"},
	{"services.gateway.settings.drainTimeoutSeconds", "SY_DRAIN_TIMEOUT", []string{"gateway"}, 40, "40s"},
	{"services.gateway.settings.drainJitterSeconds", "SY_DRAIN_JITTER", []string{"gateway"}, 12, "12s"},
	{"services.gateway.settings.pingPeriod", "SY_PING_PERIOD", []string{"gateway"}, "4s", "4s"},
	{"services.gateway.settings.pongWait", "SY_PONG_WAIT", []string{"gateway"}, "12s", "12s"},
	{"services.gateway.settings.writeWait", "SY_WRITE_WAIT", []string{"gateway"}, "8s", "8s"},
	{"services.gateway.settings.maxMessageBytes", "SY_MAX_MESSAGE_BYTES", []string{"gateway"}, 1048576, "1048576"},
	{"services.gateway.settings.sendQueueFrames", "SY_SEND_QUEUE_FRAMES", []string{"gateway"}, 256, "256"},
	{"services.gateway.settings.sendQueueBytes", "SY_SEND_QUEUE_BYTES", []string{"gateway"}, 4194304, "4194304"},
	{"services.gateway.settings.historyPage", "SY_HISTORY_PAGE", []string{"gateway"}, 200, "200"},
	{"services.gateway.settings.tokenRefreshBefore", "SY_TOKEN_REFRESH_BEFORE", []string{"gateway"}, "30m", "30m"},
	{"services.gateway.settings.maxFileBytes", "SY_MAX_FILE_BYTES", []string{"gateway"}, 3145728, "3145728"},
	// Fractional: must not be truncated to an integer like the other numbers.
	{"services.gateway.settings.rateLimit", "SY_RATE_LIMIT", []string{"gateway"}, 12.5, "12.5"},
	{"services.gateway.settings.rateBurst", "SY_RATE_BURST", []string{"gateway"}, 50, "50"},
	{"services.gateway.settings.runtimeRateLimit", "SY_RUNTIME_RATE_LIMIT", []string{"gateway"}, 5000, "5000"},
	{"services.gateway.settings.runtimeRateBurst", "SY_RUNTIME_RATE_BURST", []string{"gateway"}, 10000, "10000"},
	{"services.gateway.settings.traceOutputRatio", "SY_TRACE_OUTPUT_RATIO", []string{"gateway"}, 0.05, "0.05"},
	{"allowedOrigins", "SY_ALLOWED_ORIGINS", []string{"gateway"}, []any{"https://app.example.com", "https://*.example.org"}, "https://app.example.com,https://*.example.org"},
	{"services.gateway.settings.authTimeout", "SY_AUTH_TIMEOUT", []string{"gateway"}, "3s", "3s"},
	{"services.gateway.settings.preAuthMaxMessageBytes", "SY_PREAUTH_MAX_MESSAGE_BYTES", []string{"gateway"}, 32768, "32768"},
	{"services.gateway.settings.maxSocketsPerIP", "SY_MAX_SOCKETS_PER_IP", []string{"gateway"}, 0, "0"},
	{"services.gateway.settings.maxSocketsPerPrincipal", "SY_MAX_SOCKETS_PER_PRINCIPAL", []string{"gateway"}, 32, "32"},
	{"services.gateway.settings.trustedProxies", "SY_TRUSTED_PROXIES", []string{"gateway"}, []any{"10.0.0.0/8", "::1"}, "10.0.0.0/8,::1"},
	{"services.gateway.settings.readBudgetBytes", "SY_READ_BUDGET_BYTES", []string{"gateway"}, 536870912, "536870912"},
	{"services.gateway.settings.ingestMaxBacklog", "SY_INGEST_MAX_BACKLOG", []string{"gateway"}, 500, "500"},
	{"services.gateway.settings.directAppend", "SY_DIRECT_APPEND", []string{"gateway"}, false, "false"},
	{"services.gateway.settings.ingestMaxLag", "SY_INGEST_MAX_LAG", []string{"gateway"}, "3s", "3s"},
	{"services.gateway.settings.readBudgetWait", "SY_READ_BUDGET_WAIT", []string{"gateway"}, "9s", "9s"},
	{"services.session.settings.ackWait", "SY_ACK_WAIT", []string{"session"}, "7s", "7s"},
	{"services.session.settings.partitionWindow", "SY_PARTITION_WINDOW", []string{"session"}, 64, "64"},
	{"services.session.settings.transcriptMaxAge", "SY_TRANSCRIPT_MAX_AGE", []string{"session"}, "48h", "48h"},
	// Above 2^32 and written without exponent (YAML numbers reach helm as float64).
	{"services.session.settings.transcriptMaxBytes", "SY_TRANSCRIPT_MAX_BYTES", []string{"session"}, 10737418240, "10737418240"},
	{"services.session.settings.permissionTimeout", "SY_PERMISSION_TIMEOUT", []string{"session"}, "90s", "90s"},
	// 0 disables the idle reaper: exempt from the positive-duration check.
	{"services.session.settings.sessionIdle", "SY_SESSION_IDLE", []string{"session"}, "0s", "0s"},
	{"services.session.settings.sweepInterval", "SY_SWEEP_INTERVAL", []string{"session"}, "250ms", "250ms"},
	// -1 = no cap: a negative number that must survive rendering.
	{"services.session.settings.transcriptMaxMsgsPerSession", "SY_TRANSCRIPT_MAX_MSGS_PER_SESSION", []string{"session"}, -1, "-1"},
	{"services.session.settings.seqFloorInterval", "SY_SEQ_FLOOR_INTERVAL", []string{"session"}, "3s", "3s"},
	{"services.session.settings.userMessagesPerMinute", "SY_USER_MESSAGES_PER_MINUTE", []string{"session"}, 0, "0"},
	{"services.session.settings.userBytesPerHour", "SY_USER_BYTES_PER_HOUR", []string{"session"}, 5368709120, "5368709120"},
	// jobs.Config (the session Config's Jobs field).
	{"services.session.settings.jobRunTimeout", "SY_JOB_RUN_TIMEOUT", []string{"session"}, "20m", "20m"},
	{"services.session.settings.jobLease", "SY_JOB_LEASE", []string{"session"}, "45s", "45s"},
	{"services.session.settings.jobCatchUp", "SY_JOB_CATCH_UP", []string{"session"}, "0s", "0s"},
	{"services.session.settings.jobMaxAttempts", "SY_JOB_MAX_ATTEMPTS", []string{"session"}, 2, "2"},
	{"services.session.settings.jobRunRecordTTL", "SY_JOB_RUN_RECORD_TTL", []string{"session"}, "48h", "48h"},
	{"services.relay.settings.ackWait", "SY_ACK_WAIT", []string{"relay"}, "9s", "9s"},
	{"services.relay.settings.partitionWindow", "SY_PARTITION_WINDOW", []string{"relay"}, 8, "8"},
	{"services.relay.settings.deliveryWait", "SY_DELIVERY_WAIT", []string{"relay"}, "3s", "3s"},
	{"services.relay.settings.runtimeTokenTTL", "SY_RUNTIME_TOKEN_TTL", []string{"relay"}, "12h", "12h"},
	{"services.relay.settings.runtimeTokenGrace", "SY_RUNTIME_TOKEN_GRACE", []string{"relay"}, "2m", "2m"},
	{"services.relay.settings.endpointOwnerGrace", "SY_ENDPOINT_OWNER_GRACE", []string{"relay"}, "0s", "0s"},
	{"services.upload.settings.chunkSize", "SY_UPLOAD_CHUNK_SIZE", []string{"upload"}, 262144, "262144"},
	{"services.upload.settings.maxChunk", "SY_UPLOAD_MAX_CHUNK", []string{"upload"}, 2097152, "2097152"},
	{"services.upload.settings.maxFiles", "SY_UPLOAD_MAX_FILES", []string{"upload"}, 500, "500"},
	{"services.upload.settings.maxTotalBytes", "SY_UPLOAD_MAX_TOTAL_BYTES", []string{"upload"}, 21474836480, "21474836480"},
	// -1 = unlimited: a negative number that must survive rendering.
	{"services.upload.settings.storeMaxBytes", "SY_UPLOAD_STORE_MAX_BYTES", []string{"upload"}, 5368709120, "5368709120"},
	{"services.upload.settings.tokenTTL", "SY_UPLOAD_TOKEN_TTL", []string{"upload"}, "20m", "20m"},
	{"services.upload.settings.eventInterval", "SY_UPLOAD_EVENT_INTERVAL", []string{"upload"}, "1s", "1s"},
	{"services.upload.settings.workers", "SY_UPLOAD_WORKERS", []string{"upload"}, 4, "4"},
	// The internal listener (metrics, health, pprof) of the gateway.
	{"services.gateway.internalPort", "SY_INTERNAL_LISTEN", []string{"gateway"}, 9191, "0.0.0.0:9191"},
	{"push.requireToken", "SY_PUSH_REQUIRE_TOKEN", []string{"gateway"}, false, "false"},
	{"push.loopbackOpen", "SY_PUSH_LOOPBACK_OPEN", []string{"gateway"}, true, "true"},
	{"push.allowedOrigins", "SY_PUSH_ALLOWED_ORIGINS", []string{"gateway"}, []any{"https://app.example", "*"}, "https://app.example,*"},
	// Chat stream room (edge.ChatConfig): a port becomes the compatibility listener's address.
	{"chat.compatPort", "SY_CHAT_COMPAT_LISTEN", []string{"gateway"}, 3000, "0.0.0.0:3000"},
	{"chat.defaultEndpoint", "SY_CHAT_DEFAULT_ENDPOINT", []string{"gateway"}, "ep-main", "ep-main"},
	{"chat.endpoints", "SY_CHAT_ENDPOINTS", []string{"gateway"}, []any{"channel:C1=ep-a", "user:bob=ep-b"}, "channel:C1=ep-a,user:bob=ep-b"},
	{"chat.followupMode", "SY_CHAT_FOLLOWUP_MODE", []string{"gateway"}, "queue", "queue"},
	{"chat.followupModes", "SY_CHAT_FOLLOWUP_MODES", []string{"gateway"}, []any{"ep-a=queue", "ep-b=inject"}, "ep-a=queue,ep-b=inject"},
	{"chat.attachmentsEnabled", "SY_CHAT_ATTACHMENTS_ENABLED", []string{"gateway"}, false, "false"},
	{"chat.attachmentsAllowedExtensions", "SY_CHAT_ATTACHMENTS_ALLOWED_EXTENSIONS", []string{"gateway"}, []any{"png", ".jpg"}, "png,.jpg"},
	{"chat.attachmentsMaxBytes", "SY_CHAT_ATTACHMENTS_MAX_BYTES", []string{"gateway"}, 2097152, "2097152"},
	{"chat.attachmentsMaxFiles", "SY_CHAT_ATTACHMENTS_MAX_FILES", []string{"gateway"}, 4, "4"},
	// Device controllers.
	{"device.compatPort", "SY_DEVICE_COMPAT_LISTEN", []string{"gateway"}, 8081, "0.0.0.0:8081"},
	{"device.compatDevice", "SY_DEVICE_COMPAT_DEVICE", []string{"gateway"}, "dev-9", "dev-9"},
	{"device.requestTimeout", "SY_DEVICE_REQUEST_TIMEOUT", []string{"gateway"}, "40s", "40s"},
	{"device.installTimeout", "SY_DEVICE_INSTALL_TIMEOUT", []string{"gateway"}, "2h", "2h"},
	{"device.pairingCodeTTL", "SY_DEVICE_PAIRING_CODE_TTL", []string{"gateway"}, "90s", "90s"},
	{"device.pairingWindow", "SY_DEVICE_PAIRING_WINDOW", []string{"gateway"}, "15m", "15m"},
	{"device.pairingPerDevice", "SY_DEVICE_PAIRING_PER_DEVICE", []string{"gateway"}, 7, "7"},
	{"device.pairingPerAddr", "SY_DEVICE_PAIRING_PER_ADDR", []string{"gateway"}, 30, "30"},
	{"device.showCode", "SY_DEVICE_SHOW_CODE", []string{"gateway"}, true, "true"},
	{"device.progressEvery", "SY_DEVICE_PROGRESS_EVERY", []string{"gateway"}, "750ms", "750ms"},
	{"device.downloadBase", "SY_DEVICE_DOWNLOAD_BASE", []string{"gateway"}, "https://dl.example", "https://dl.example"},
	// Redis Sentinel (cluster mode and nkey: TestExclusiveModesReachEnv) and credentials (from the connection Secret).
	{"redis.addrs", "SY_REDIS_ADDRS", allServices, []any{"s1.redis:26379", "s2.redis:26379"}, "s1.redis:26379,s2.redis:26379"},
	{"redis.masterName", "SY_REDIS_MASTER_NAME", allServices, "mymaster", "mymaster"},
	{"redis.username", "SY_REDIS_USERNAME", allServices, "sy", "sy"},
	{"redis.password", "SY_REDIS_PASSWORD", allServices, "redis-pass", "redis-pass"},
	{"redis.sentinelPassword", "SY_REDIS_SENTINEL_PASSWORD", allServices, "sentinel-pass", "sentinel-pass"},
	// NATS key material: files from Secrets, the env var holds the path.
	{"nats.creds.secretName", "SY_NATS_CREDS", allServices, "nats-user", "/etc/switchyard/nats/creds/nats.creds"},
	{"nats.tls.ca.secretName", "SY_NATS_TLS_CA", allServices, "nats-ca", "/etc/switchyard/nats/tls-ca/ca.crt"},
	{"nats.tls.clientCert.secretName", "SY_NATS_TLS_CERT", allServices, "nats-client", "/etc/switchyard/nats/tls-client/tls.crt"},
	{"nats.tls.clientCert.secretName", "SY_NATS_TLS_KEY", allServices, "nats-client", "/etc/switchyard/nats/tls-client/tls.key"},
	// JWT client authentication: the gateway only.
	{"jwt.hmacSecret", "SY_JWT_HMAC_SECRET_FILE", []string{"gateway"}, "an-hs256-secret-of-at-least-32-bytes!", "/etc/switchyard/jwt/hmac-secret"},
	{"jwt.jwksURL", "SY_JWT_JWKS_URL", []string{"gateway"}, "https://idp.example/jwks.json", "https://idp.example/jwks.json"},
	{"jwt.audience", "SY_JWT_AUDIENCE", []string{"gateway"}, "switchyard", "switchyard"},
	{"jwt.issuer", "SY_JWT_ISSUER", []string{"gateway"}, "https://idp.example/", "https://idp.example/"},
	{"jwt.leeway", "SY_JWT_LEEWAY", []string{"gateway"}, "10s", "10s"},
	{"jwt.jwksRefresh", "SY_JWT_JWKS_REFRESH", []string{"gateway"}, "30m", "30m"},
	{"jwt.jwksMinRefresh", "SY_JWT_JWKS_MIN_REFRESH", []string{"gateway"}, "5s", "5s"},
}

// docOnlyValues: values with an env var that need a case of their own (they
// exclude a value of the table, or their env differs per service); each has a
// docs/kubernetes.md row too.
var docOnlyValues = []valueEnv{
	{Key: "redis.cluster", Env: "SY_REDIS_CLUSTER"},
	{Key: "nats.nkey.secretName", Env: "SY_NATS_NKEY"},
	{Key: "goMemLimit.percent", Env: "GOMEMLIMIT"},
	{Key: "services.gateway.port", Env: "SY_LISTEN"},
}

// setPath puts v at a dotted path, creating maps on the way.
func setPath(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// Every value of the table reaches exactly the services it is meant for.
func TestValuesReachEnv(t *testing.T) {
	overlay := map[string]any{}
	for _, ve := range valueEnvTable {
		setPath(overlay, ve.Key, ve.Override)
	}
	setPath(overlay, "services.upload.enabled", true)
	f := filepath.Join(t.TempDir(), "overrides.yaml")
	var b strings.Builder
	writeYAML(&b, overlay, 0)
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := helmTemplate(t, "-f", f)
	if err != nil {
		t.Fatalf("helm template with overrides:\n%s\n%s", b.String(), stderr)
	}
	objs, err := DecodeManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndex(t, &rendered{valueCase: valueCase{Name: "overrides", ValuesFile: f}, Objects: objs})
	deps := ix.switchyardDeployments()
	envs := map[string]map[string]envVar{}
	for _, name := range allServices {
		d, ok := deps[name]
		if !ok {
			t.Fatalf("no %s Deployment", name)
		}
		envs[name] = ix.resolveEnv(t, name, d.Spec.Template.Spec.Containers[0])
		checkServiceDeployment(t, ix, name, d)
	}
	for _, ve := range valueEnvTable {
		for _, svc := range allServices {
			v, has := envs[svc][ve.Env]
			switch {
			case slices.Contains(ve.Services, svc) && v.Value != ve.Want:
				t.Errorf("%s=%v: %s of %s = %q, want %q", ve.Key, ve.Override, ve.Env, svc, v.Value, ve.Want)
			case !slices.Contains(ve.Services, svc) && has && v.Value == ve.Want:
				t.Errorf("%s=%v leaks into %s of %s", ve.Key, ve.Override, ve.Env, svc)
			}
		}
	}
}

// writeYAML writes nested maps of scalars as block YAML (strings quoted).
func writeYAML(b *strings.Builder, m map[string]any, indent int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pad := strings.Repeat("  ", indent)
		switch v := m[k].(type) {
		case map[string]any:
			fmt.Fprintf(b, "%s%s:\n", pad, k)
			writeYAML(b, v, indent+1)
		case string:
			fmt.Fprintf(b, "%s%s: %q\n", pad, k, v)
		case []any:
			var items []string
			for _, it := range v {
				items = append(items, fmt.Sprintf("%q", it))
			}
			fmt.Fprintf(b, "%s%s: [%s]\n", pad, k, strings.Join(items, ", "))
		default:
			fmt.Fprintf(b, "%s%s: %v\n", pad, k, v)
		}
	}
}

// The runtime tokens are checked by the relay, the client tokens by the
// gateway; session reads no Secret.
func TestTokensGoToTheirReaders(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			for svc, d := range ix.switchyardDeployments() {
				env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
				var fromSecret []string
				for name, v := range env {
					if v.SecretRef != nil {
						fromSecret = append(fromSecret, name)
					}
				}
				sort.Strings(fromSecret)
				want := map[string][]string{"gateway": {"SY_ADMIN_TOKENS", "SY_CLIENT_TOKENS"}, "relay": {"SY_RUNTIME_TOKENS"}}[svc]
				// Every service: the connection Secret (URLs may carry passwords),
				// and the Redis credentials when set or from an existing Secret.
				conn := append([]string{}, connectionSecrets...)
				if lookup(ix.values, "redis.existingSecret") != nil {
					conn = append(conn, optionalSecrets...)
				}
				for _, k := range []string{"username", "password", "sentinelPassword"} {
					if v, _ := lookup(ix.values, "redis."+k).(string); v != "" && lookup(ix.values, "redis.existingSecret") == nil {
						conn = append(conn, map[string]string{"username": "SY_REDIS_USERNAME", "password": "SY_REDIS_PASSWORD", "sentinelPassword": "SY_REDIS_SENTINEL_PASSWORD"}[k])
					}
				}
				var tokens []string
				for _, name := range fromSecret {
					if !slices.Contains(conn, name) {
						tokens = append(tokens, name)
					}
				}
				for _, name := range conn {
					if !slices.Contains(fromSecret, name) {
						t.Errorf("%s: %s must come from a Secret", d.Name, name)
					}
				}
				fromSecret = tokens
				if !slices.Equal(fromSecret, want) {
					t.Errorf("%s: env from the Secret %v, want %v", d.Name, fromSecret, want)
				}
				if svc == "gateway" {
					if _, has := env["SY_RUNTIME_TOKENS"]; has {
						t.Errorf("%s: the gateway must not get SY_RUNTIME_TOKENS (the relay checks runtime tokens)", d.Name)
					}
				}
				if svc == "relay" {
					ref := env["SY_RUNTIME_TOKENS"].SecretRef
					if ref == nil || ref.Key != "SY_RUNTIME_TOKENS" {
						t.Errorf("%s: SY_RUNTIME_TOKENS must come from the Secret key SY_RUNTIME_TOKENS", d.Name)
					}
				}
				// Pods that read the Secret roll when their keys change.
				_, hasSum := d.Spec.Template.Annotations["checksum/tokens"]
				if wantSum := len(want) > 0 && !ix.usesExistingSecret(); hasSum != wantSum {
					t.Errorf("%s: checksum/tokens annotation present = %v, want %v", d.Name, hasSum, wantSum)
				}
			}
			for _, sec := range ix.secrets {
				if sec.Name != ix.r.fullname()+"-tokens" {
					continue // the connection and JWT Secrets: TestNoSecretsInConfigMaps, checkSecretFiles
				}
				var keys []string
				for k := range sec.StringData {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if want := []string{"SY_ADMIN_TOKENS", "SY_CLIENT_TOKENS", "SY_PROBE_TOKEN", "SY_RUNTIME_TOKENS"}; !slices.Equal(keys, want) {
					t.Errorf("Secret/%s: keys %v, want %v", sec.Name, keys, want)
				}
				if v := sec.StringData["SY_RUNTIME_TOKENS"]; r.Name == "all-features" && v != "rt-a=*,rt-b=runtime-7" {
					t.Errorf("Secret/%s: SY_RUNTIME_TOKENS %q, want the tokens.runtime entries joined", sec.Name, v)
				}
			}
		})
	}
}

// Shared settings are identical in every service of a rendering.
func TestSharedSettingsAgree(t *testing.T) {
	for _, r := range allCases(t) {
		t.Run(r.Name, func(t *testing.T) {
			ix := newIndex(t, r)
			seen := map[string]string{}
			from := map[string]string{}
			for svc, d := range ix.switchyardDeployments() {
				env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
				for _, name := range sharedEnv {
					v, ok := env[name]
					if !ok || (v.Value == "" && name != "SY_NAMESPACE") { // an empty namespace is the default
						t.Errorf("%s: %s missing", d.Name, name)
						continue
					}
					if prev, ok := seen[name]; ok && prev != v.Value {
						t.Errorf("%s = %q in %s but %q in %s: all services must agree", name, v.Value, svc, prev, from[name])
					}
					seen[name], from[name] = v.Value, svc
				}
			}
		})
	}
}

// What the examples promise: production replicates streams on a 3-node
// JetStream cluster and runs 2 session and 2 relay replicas; dev runs 1 each.
func TestExamplesIntent(t *testing.T) {
	want := map[string]struct {
		streamReplicas string
		replicas       int32
	}{"production": {"3", 2}, "dev": {"1", 1}, "default": {"1", 2}}
	for name, w := range want {
		ix := newIndex(t, caseNamed(t, name))
		for svc, d := range ix.switchyardDeployments() {
			env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
			if got := env["SY_STREAM_REPLICAS"].Value; got != w.streamReplicas {
				t.Errorf("%s %s: SY_STREAM_REPLICAS %s, want %s", name, d.Name, got, w.streamReplicas)
			}
			if svc == "gateway" {
				continue
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != w.replicas {
				t.Errorf("%s %s: replicas %v, want %d", name, d.Name, d.Spec.Replicas, w.replicas)
			}
		}
	}
}

// docs/kubernetes.md has one table row per value -> env var, whose default
// column matches values.yaml; and it names every env var of the contract.
func TestDocsListEveryValue(t *testing.T) {
	doc := string(readRepoFile(t, "docs/kubernetes.md"))
	rows := map[string][]string{}
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) > 0 && strings.Count(cells[0], "`") == 2 {
			rows[strings.Trim(cells[0], "`")] = cells
		}
	}
	defaults := defaultValues(t)
	for _, ve := range append(slices.Clone(valueEnvTable), docOnlyValues...) {
		cells, ok := rows[ve.Key]
		if !ok {
			t.Errorf("docs/kubernetes.md: no table row for `%s`", ve.Key)
			continue
		}
		if len(cells) < 3 || !strings.Contains(cells[2], "`"+ve.Env+"`") {
			t.Errorf("docs/kubernetes.md: row `%s` does not name `%s` in its env column: %v", ve.Key, ve.Env, cells)
		}
		def := lookup(defaults, ve.Key)
		var defStr string
		switch v := def.(type) {
		case float64:
			defStr = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			t.Errorf("values.yaml has no %s", ve.Key)
		default:
			defStr = fmt.Sprint(v)
		}
		if defStr == "" {
			defStr = `""`
		}
		if len(cells) < 2 || !strings.Contains(cells[1], "`"+defStr+"`") {
			t.Errorf("docs/kubernetes.md: row `%s` default %v, values.yaml has `%s`", ve.Key, cells[1:2], defStr)
		}
	}
	for svc, c := range contract {
		for _, name := range c.allEnv() {
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/kubernetes.md does not mention `%s` (%s)", name, svc)
			}
		}
	}
}

// The contract lists the env vars the binaries really read: the env tags of
// config.Common and of each service's Config struct (parsed, not imported:
// this is a separate Go module). Names in pendingEnv are set by the chart
// ahead of the binaries (printed); one that a binary reads fails the test
// until it is dropped from pendingEnv. A service whose source is not on this
// branch yet (upload) is reported, not compared.
func TestContractMatchesServiceSources(t *testing.T) {
	jwt := structEnv(t, "pkg/auth/jwtauth", "Config", nil)
	common := structEnv(t, "pkg/config", "Common", nil)
	// Struct-typed fields, embedded or named (Chat ChatConfig, Jobs jobs.Config):
	// pkg/config binds the fields of every nested struct, so their env is read too.
	embedded := map[string][]string{"config.Common": common, "jwtauth.Config": jwt,
		"ChatConfig":  structEnv(t, "services/gateway/edge", "ChatConfig", nil),
		"jobs.Config": structEnv(t, "services/session/jobs", "Config", nil)}
	sources := map[string]string{
		"gateway": "services/gateway/edge",
		"session": "services/session/sessions",
		"relay":   "services/relay/routing",
		"upload":  "services/upload/uploads",
	}
	pendingSeen := map[string]bool{}
	for svc, dir := range sources {
		if _, err := os.Stat(filepath.Join(repoRoot, dir)); os.IsNotExist(err) {
			t.Logf("PENDING: %s: %s is not on this branch; its contract (%v) is the chart's side only", svc, dir, contract[svc].ExtraEnv)
			continue
		}
		got := structEnv(t, dir, "Config", embedded)
		c := contract[svc]
		want := c.allEnv()
		want = slices.DeleteFunc(want, func(n string) bool { return n == "GOMEMLIMIT" }) // read by the Go runtime
		// Each binary-only env belongs to the services the chart gives its _FILE twin.
		for name, why := range binaryOnlyEnv {
			if slices.Contains(got, name) {
				want = append(want, name)
			} else if !slices.Contains(pendingEnv, name) && slices.Contains(c.allEnv(), name+"_FILE") {
				t.Errorf("%s: binaryOnlyEnv %s (%s) is not read by %s any more", svc, name, why, dir)
			}
		}
		for _, name := range got {
			if slices.Contains(pendingEnv, name) {
				t.Errorf("%s: %s now reads %s: drop it from pendingEnv in contract_test.go", svc, dir, name)
			}
		}
		var missing, extra []string
		for _, name := range want {
			if slices.Contains(got, name) {
				continue
			}
			if slices.Contains(pendingEnv, name) {
				pendingSeen[name] = true
				continue
			}
			missing = append(missing, name)
		}
		for _, name := range got {
			if !slices.Contains(want, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s: %s reads %v that the chart does not set,\n  the chart contract sets %v that it does not read\n  (update contract in contract_test.go, the chart and docs/kubernetes.md together)",
				svc, dir, extra, missing)
		}
	}
	var pending []string
	for name := range pendingSeen {
		pending = append(pending, name)
	}
	sort.Strings(pending)
	if len(pending) > 0 {
		t.Logf("PENDING: the chart sets %v, which no binary on this branch reads yet (issue 14)", pending)
	}
}

// structEnv returns the env:"..." tags of the fields of type name in the Go
// package in dir (its non-test files); struct-typed fields without a tag,
// embedded ("config.Common") or named ("Chat ChatConfig"), are expanded from
// embedded, as pkg/config walks every nested struct. A tagless field of
// another non-builtin type fails the test: it may be a struct the test misses.
func structEnv(t *testing.T, dir, name string, embedded map[string][]string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var out []string
	found := false
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != name {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			found = true
			for _, fld := range st.Fields.List {
				if fld.Tag == nil {
					sel := types(fld.Type)
					env, ok := embedded[sel]
					switch {
					case ok:
						out = append(out, env...)
					case len(fld.Names) == 0:
						t.Errorf("%s: %s embeds %s, which the test does not know", dir, name, sel)
					case !builtinType[sel]:
						t.Errorf("%s: %s has a field %s %s without tags: a nested config struct? add it to the embedded map of TestContractMatchesServiceSources",
							dir, name, fld.Names[0].Name, sel)
					}
					continue
				}
				tag, err := strconv.Unquote(fld.Tag.Value)
				if err != nil {
					t.Fatalf("%s: tag %s: %v", dir, fld.Tag.Value, err)
				}
				if env := reflect.StructTag(tag).Get("env"); env != "" {
					out = append(out, env)
				}
			}
			return false
		})
	}
	if !found {
		t.Fatalf("%s: no struct type %s (moved? update TestContractMatchesServiceSources)", dir, name)
	}
	return out
}

// builtinType: tagless fields of these types are plain (e.g. ChatConfig.CompatOptional bool).
var builtinType = map[string]bool{"bool": true, "string": true, "int": true, "int64": true, "float64": true,
	"time.Duration": true, "[]string": true, "*slog.Logger": true}

func types(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.Ident:
		return v.Name
	case *ast.SelectorExpr:
		return types(v.X) + "." + v.Sel.Name
	case *ast.StarExpr:
		return "*" + types(v.X)
	case *ast.ArrayType:
		return "[]" + types(v.Elt)
	}
	return fmt.Sprintf("%T", e)
}

// Modes that exclude a value of valueEnvTable: Redis Cluster (not with a
// Sentinel master name) and a NATS nkey (not with a creds file).
func TestExclusiveModesReachEnv(t *testing.T) {
	out, stderr, err := helmTemplate(t, "--set", "redis.cluster=true", "--set", "redis.addrs={c1:6379,c2:6379}",
		"--set", "nats.nkey.secretName=nats-nkey", "--set", "nats.nkey.key=seed.nk")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr)
	}
	objs, err := DecodeManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndex(t, &rendered{valueCase: valueCase{Name: "cluster-nkey"}, Objects: objs})
	for svc, d := range ix.switchyardDeployments() {
		env := ix.resolveEnv(t, svc, d.Spec.Template.Spec.Containers[0])
		if env["SY_REDIS_CLUSTER"].Value != "true" || env["SY_REDIS_ADDRS"].Value != "c1:6379,c2:6379" {
			t.Errorf("%s: SY_REDIS_CLUSTER %q SY_REDIS_ADDRS %q", svc, env["SY_REDIS_CLUSTER"].Value, env["SY_REDIS_ADDRS"].Value)
		}
		if _, has := env["SY_REDIS_MASTER_NAME"]; has {
			t.Errorf("%s: SY_REDIS_MASTER_NAME set in cluster mode", svc)
		}
		if env["SY_NATS_NKEY"].Value != "/etc/switchyard/nats/nkey/seed.nk" {
			t.Errorf("%s: SY_NATS_NKEY %q", svc, env["SY_NATS_NKEY"].Value)
		}
	}
}
