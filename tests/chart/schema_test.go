package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

const schemaURL = "file:///charts/switchyard/values.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw := readRepoFile(t, "charts/switchyard/values.schema.json")
	var head struct {
		Schema string `json:"$schema"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatalf("values.schema.json is not JSON: %v", err)
	}
	if head.Schema != "http://json-schema.org/draft-07/schema#" {
		t.Fatalf("values.schema.json $schema = %q, want draft-07", head.Schema)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatalf("compile values.schema.json: %v", err)
	}
	return s
}

func yamlMap(t *testing.T, data []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// coalesce merges overlay into base like helm: maps merge recursively, a null
// in the overlay deletes the key, anything else replaces.
func coalesce(base, overlay map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range overlay {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, ok1 := out[k].(map[string]any)
		om, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func validateValues(t *testing.T, s *jsonschema.Schema, values map[string]any) error {
	t.Helper()
	b, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

func defaultValues(t *testing.T) map[string]any {
	return yamlMap(t, readRepoFile(t, "charts/switchyard/values.yaml"))
}

func TestSchemaAcceptsShippedValues(t *testing.T) {
	s := compileSchema(t)
	defaults := defaultValues(t)
	for _, c := range valueCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			vals := defaults
			if c.ValuesFile != "" {
				vals = coalesce(defaults, yamlMap(t, readAbs(t, c.ValuesFile)))
			}
			if err := validateValues(t, s, vals); err != nil {
				t.Fatalf("schema rejects %s: %v", c.Name, err)
			}
		})
	}
}

// The schema is closed where typos hurt: top level, services, every service.
func TestSchemaIsClosed(t *testing.T) {
	var sch map[string]any
	if err := json.Unmarshal(readRepoFile(t, "charts/switchyard/values.schema.json"), &sch); err != nil {
		t.Fatal(err)
	}
	closed := func(where string, m any) {
		mm, _ := m.(map[string]any)
		if mm == nil || mm["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties must be false", where)
		}
	}
	closed("top level", sch)
	props := sch["properties"].(map[string]any)
	for _, k := range []string{"image", "log", "nats", "redis", "otlp", "shared", "tokens", "tests", "services",
		"jwt", "push", "chat", "device", "goMemLimit", "networkPolicy", "metrics"} {
		closed(k, props[k])
	}
	defs := sch["definitions"].(map[string]any)
	for _, k := range []string{"gatewayService", "internalService", "sessionSettings", "relaySettings", "uploadSettings",
		"resources", "probe", "pdb", "secretKeyFile", "envVar", "envFromSource"} {
		closed("definitions."+k, defs[k])
	}
	// Every top-level key of values.yaml is declared and required.
	req := map[string]bool{}
	for _, k := range sch["required"].([]any) {
		req[k.(string)] = true
	}
	for k := range defaultValues(t) {
		if _, ok := props[k]; !ok {
			t.Errorf("values.yaml key %s is not in the schema", k)
		}
		if !req[k] && k != "nameOverride" && k != "fullnameOverride" {
			t.Errorf("values.yaml key %s should be required", k)
		}
	}
}

type badValues struct {
	name    string
	overlay string   // YAML merged over values.yaml (Go validator) and passed as -f (helm)
	set     []string // if set, helm gets these flags instead of -f overlay
	want    string   // substring of helm's error
	schema  bool     // rejected by values.schema.json (false: by a template check)
}

var badCases = []badValues{
	{"log level enum", "log: {level: verbose}", []string{"--set", "log.level=verbose"}, "'/log/level'", true},
	{"log format enum", "log: {format: xml}", nil, "'/log/format'", true},
	{"replicas minimum", "services: {gateway: {replicas: 0}}", []string{"--set", "services.gateway.replicas=0"}, "'/services/gateway/replicas'", true},
	{"replicas type", "services: {session: {replicas: two}}", []string{"--set-string", "services.session.replicas=two"}, "'/services/session/replicas'", true},
	{"unknown top-level key", "gatewya: {replicas: 1}", []string{"--set", "gatewya.replicas=1"}, "additional properties 'gatewya' not allowed", true},
	{"misspelled service key", "services: {gateway: {replcas: 2}}", []string{"--set", "services.gateway.replcas=2"}, "additional properties 'replcas' not allowed", true},
	{"unknown service", "services: {uploader: {enabled: true}}", nil, "additional properties 'uploader' not allowed", true},
	{"misspelled nested key", "services: {gateway: {settings: {drainTimeout: 20s}}}", nil, "additional properties 'drainTimeout' not allowed", true},
	{"client token without user", `tokens: {client: ["no-equals"]}`, []string{"--set", "tokens.client[0]=no-equals"}, "'/tokens/client/0'", true},
	{"runtime token with comma", `tokens: {runtime: ["a=b,c=d"]}`, nil, "'/tokens/runtime/0'", true},
	{"probe token not URL-safe", `tokens: {client: ["a b=c"], probe: "a b"}`, nil, "'/tokens/probe'", true},
	{"nats url scheme", "nats: {url: 'http://nats:4222'}", nil, "'/nats/url'", true},
	{"redis url scheme", "redis: {url: 'localhost:6379'}", nil, "'/redis/url'", true},
	{"otlp endpoint not a URL", "otlp: {endpoint: 'jaeger:4318'}", []string{"--set", "otlp.endpoint=jaeger:4318"}, "'/otlp/endpoint'", true},
	{"pull policy enum", "image: {pullPolicy: Sometimes}", nil, "'/image/pullPolicy'", true},
	{"image tag with space", "image: {tag: 'v1 beta'}", nil, "'/image/tag'", true},
	{"embedded image without tag", "nats: {embedded: {image: nats}}", nil, "'/nats/embedded/image'", true},
	{"duration format", "services: {gateway: {settings: {pingPeriod: 5 seconds}}}", nil, "'/services/gateway/settings/pingPeriod'", true},
	{"drain timeout type", "services: {gateway: {settings: {drainTimeoutSeconds: 20s}}}", []string{"--set", "services.gateway.settings.drainTimeoutSeconds=20s"}, "'/services/gateway/settings/drainTimeoutSeconds'", true},
	{"service port range", "services: {gateway: {service: {port: 70000}}}", nil, "'/services/gateway/service/port'", true},
	{"nodePort range", "services: {gateway: {service: {type: NodePort, nodePort: 8080}}}", nil, "'/services/gateway/service/nodePort'", true},
	{"service type enum", "services: {gateway: {service: {type: ExternalName}}}", nil, "'/services/gateway/service/type'", true},
	{"hpa minReplicas minimum", "services: {gateway: {autoscaling: {enabled: true, minReplicas: 0}}}", nil, "'/services/gateway/autoscaling/minReplicas'", true},
	{"memory request required", "services: {gateway: {resources: {requests: {memory: null}}}}", nil, "'/services/gateway/resources/requests'", true},
	{"probe period minimum", "services: {relay: {probes: {readiness: {periodSeconds: 0}}}}", nil, "'/services/relay/probes/readiness/periodSeconds'", true},
	{"pdb intOrPercent", "services: {gateway: {pdb: {maxUnavailable: ten}}}", nil, "'/services/gateway/pdb/maxUnavailable'", true},
	{"ingress path", "services: {gateway: {ingress: {enabled: true, hosts: [{host: a.example.com, paths: [{path: ws, pathType: Prefix}]}]}}}", nil, "'/services/gateway/ingress/hosts/0/paths/0/path'", true},
	{"root pods", "podSecurityContext: {runAsNonRoot: false}", []string{"--set", "podSecurityContext.runAsNonRoot=false"}, "'/podSecurityContext/runAsNonRoot'", true},
	{"privilege escalation", "containerSecurityContext: {allowPrivilegeEscalation: true}", nil, "'/containerSecurityContext/allowPrivilegeEscalation'", true},
	{"test timeout minimum", "tests: {timeoutSeconds: 1}", nil, "'/tests/timeoutSeconds'", true},
	{"required key removed", "otlp: null", nil, "missing property 'otlp'", true},
	{"partitions zero", "shared: {partitions: 0}", []string{"--set", "shared.partitions=0"}, "'/shared/partitions'", true},
	{"partitions above 1024", "shared: {partitions: 2000}", []string{"--set", "shared.partitions=2000"}, "'/shared/partitions'", true},
	{"partitions type", "shared: {partitions: sixteen}", []string{"--set-string", "shared.partitions=sixteen"}, "'/shared/partitions'", true},
	{"stream replicas above 5", "shared: {streamReplicas: 7}", nil, "'/shared/streamReplicas'", true},
	{"namespace with a dot", "shared: {namespace: a.b}", nil, "'/shared/namespace'", true},
	{"namespace too long", "shared: {namespace: " + strings.Repeat("n", 33) + "}", nil, "'/shared/namespace'", true},
	{"heartbeat duration format", "shared: {heartbeat: 5 seconds}", nil, "'/shared/heartbeat'", true},
	{"owner ttl without unit", "shared: {ownerTTL: '15'}", nil, "'/shared/ownerTTL'", true},
	{"unknown shared key", "shared: {partition: 16}", nil, "additional properties 'partition' not allowed", true},
	{"request timeout moved to shared", "services: {gateway: {settings: {requestTimeout: 30s}}}", nil, "additional properties 'requestTimeout' not allowed", true},
	{"drain jitter type", "services: {gateway: {settings: {drainJitterSeconds: 5s}}}", nil, "'/services/gateway/settings/drainJitterSeconds'", true},
	{"drain jitter negative", "services: {gateway: {settings: {drainJitterSeconds: -1}}}", nil, "'/services/gateway/settings/drainJitterSeconds'", true},
	{"history page minimum", "services: {gateway: {settings: {historyPage: 0}}}", nil, "'/services/gateway/settings/historyPage'", true},
	{"session ack wait format", "services: {session: {settings: {ackWait: soon}}}", nil, "'/services/session/settings/ackWait'", true},
	{"session partition window zero", "services: {session: {settings: {partitionWindow: 0}}}", nil, "'/services/session/settings/partitionWindow'", true},
	{"relay partition window too large", "services: {relay: {settings: {partitionWindow: 5000}}}", nil, "'/services/relay/settings/partitionWindow'", true},
	{"transcript bytes minimum", "services: {session: {settings: {transcriptMaxBytes: 0}}}", nil, "'/services/session/settings/transcriptMaxBytes'", true},
	{"messages per session zero", "services: {session: {settings: {transcriptMaxMsgsPerSession: 0}}}", nil, "'/services/session/settings/transcriptMaxMsgsPerSession'", true},
	{"user messages negative", "services: {session: {settings: {userMessagesPerMinute: -1}}}", nil, "'/services/session/settings/userMessagesPerMinute'", true},
	{"owner grace format", "services: {relay: {settings: {endpointOwnerGrace: later}}}", nil, "'/services/relay/settings/endpointOwnerGrace'", true},
	{"max file bytes minimum", "services: {gateway: {settings: {maxFileBytes: 0}}}", []string{"--set", "services.gateway.settings.maxFileBytes=0"}, "'/services/gateway/settings/maxFileBytes'", true},
	{"max file bytes type", "services: {gateway: {settings: {maxFileBytes: 7MiB}}}", nil, "'/services/gateway/settings/maxFileBytes'", true},
	{"trace output ratio above 1", "services: {gateway: {settings: {traceOutputRatio: 2}}}", nil, "'/services/gateway/settings/traceOutputRatio'", true},
	{"allowed origin with a path", "allowedOrigins: [https://app.example.com/console]", nil, "'/allowedOrigins/0'", true},
	{"rate limit negative", "services: {gateway: {settings: {rateLimit: -1}}}", nil, "'/services/gateway/settings/rateLimit'", true},
	{"rate limit type", "services: {gateway: {settings: {rateLimit: fast}}}", nil, "'/services/gateway/settings/rateLimit'", true},
	{"rate burst minimum", "services: {gateway: {settings: {rateBurst: 0}}}", nil, "'/services/gateway/settings/rateBurst'", true},
	{"runtime rate limit negative", "services: {gateway: {settings: {runtimeRateLimit: -5}}}", nil, "'/services/gateway/settings/runtimeRateLimit'", true},
	{"runtime rate burst minimum", "services: {gateway: {settings: {runtimeRateBurst: 0}}}", []string{"--set", "services.gateway.settings.runtimeRateBurst=0"}, "'/services/gateway/settings/runtimeRateBurst'", true},
	{"rate burst integer", "services: {gateway: {settings: {rateBurst: 2.5}}}", nil, "'/services/gateway/settings/rateBurst'", true},
	{"permission timeout format", "services: {session: {settings: {permissionTimeout: 60}}}", nil, "'/services/session/settings/permissionTimeout'", true},
	{"session idle format", "services: {session: {settings: {sessionIdle: 1 hour}}}", nil, "'/services/session/settings/sessionIdle'", true},
	{"session idle negative", "services: {session: {settings: {sessionIdle: -1h}}}", nil, "'/services/session/settings/sessionIdle'", true},
	{"sweep interval format", "services: {session: {settings: {sweepInterval: often}}}", nil, "'/services/session/settings/sweepInterval'", true},
	{"gateway has no session idle", "services: {gateway: {settings: {sessionIdle: 1h}}}", nil, "additional properties 'sessionIdle' not allowed", true},
	{"relay has no transcript setting", "services: {relay: {settings: {transcriptMaxAge: 1h}}}", nil, "additional properties 'transcriptMaxAge' not allowed", true},
	{"relay settings required", "services: {relay: {settings: null}}", nil, "missing property 'settings'", true},
	// Issue 14: JWT, push, GOMEMLIMIT, internal port, Redis HA, NATS auth, extension points, monitoring, upload.
	{"jwt secret too short", "jwt: {hmacSecret: short}", nil, "'/jwt/hmacSecret'", true},
	{"jwks url scheme", "jwt: {jwksURL: 'ftp://idp/jwks'}", []string{"--set", "jwt.jwksURL=ftp://idp/jwks"}, "'/jwt/jwksURL'", true},
	{"jwt leeway format", "jwt: {leeway: 5 seconds}", nil, "'/jwt/leeway'", true},
	{"unknown jwt key", "jwt: {jwks: 'https://idp/jwks'}", nil, "additional properties 'jwks' not allowed", true},
	{"push requireToken type", "push: {requireToken: always}", []string{"--set", "push.requireToken=always"}, "'/push/requireToken'", true},
	{"gomemlimit percent above 100", "goMemLimit: {percent: 150}", []string{"--set", "goMemLimit.percent=150"}, "'/goMemLimit/percent'", true},
	{"gomemlimit percent below 10", "goMemLimit: {percent: 5}", nil, "'/goMemLimit/percent'", true},
	{"internal port range", "services: {gateway: {internalPort: 0}}", nil, "'/services/gateway/internalPort'", true},
	{"redis addrs without port", `redis: {addrs: ["sentinel-0"]}`, []string{"--set", "redis.addrs={sentinel-0}"}, "'/redis/addrs/0'", true},
	{"redis cluster type", `redis: {cluster: "yes"}`, nil, "'/redis/cluster'", true},
	{"nats creds secret name", `nats: {creds: {secretName: Bad_Name, key: nats.creds}}`, nil, "'/nats/creds/secretName'", true},
	{"unknown nats tls key", "nats: {tls: {cert: {secretName: x}}}", nil, "additional properties 'cert' not allowed", true},
	{"extraEnv without name", "services: {gateway: {extraEnv: [{value: x}]}}", nil, "'/services/gateway/extraEnv/0'", true},
	{"extraEnv number value", "services: {session: {extraEnv: [{name: A, value: 1}]}}", nil, "'/services/session/extraEnv/0/value'", true},
	{"extraEnvFrom unknown field", "services: {gateway: {extraEnvFrom: [{secret: {name: x}}]}}", nil, "additional properties 'secret' not allowed", true},
	{"topology spread enum", "services: {relay: {topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Sometimes}]}}", nil, "'/services/relay/topologySpreadConstraints/0/whenUnsatisfiable'", true},
	{"init container without image", "services: {gateway: {initContainers: [{name: x}]}}", nil, "'/services/gateway/initContainers/0'", true},
	{"volume mount relative path", "services: {gateway: {extraVolumeMounts: [{name: x, mountPath: etc}]}}", nil, "'/services/gateway/extraVolumeMounts/0/mountPath'", true},
	{"network policy empty peer", "networkPolicy: {enabled: true, internalFrom: [{}]}", nil, "'/networkPolicy/internalFrom/0'", true},
	{"service monitor interval format", "metrics: {serviceMonitor: {enabled: true, interval: 30}}", nil, "'/metrics/serviceMonitor/interval'", true},
	{"prometheus rule threshold negative", "metrics: {prometheusRule: {slowConsumerDropsPerMinute: -1}}", nil, "'/metrics/prometheusRule/slowConsumerDropsPerMinute'", true},
	{"dashboard namespace", "metrics: {grafanaDashboard: {namespace: Monitoring}}", nil, "'/metrics/grafanaDashboard/namespace'", true},
	{"httproute relative path", "services: {gateway: {httpRoute: {enabled: true, parentRefs: [{name: gw}], paths: [ws]}}}", nil, "'/services/gateway/httpRoute/paths/0'", true},
	{"httproute hostname", `services: {gateway: {httpRoute: {enabled: true, parentRefs: [{name: gw}], hostnames: ["Bad Host"]}}}`, nil, "'/services/gateway/httpRoute/hostnames/0'", true},
	{"upload workers minimum", "services: {upload: {settings: {workers: 0}}}", nil, "'/services/upload/settings/workers'", true},
	{"upload store below -1", "services: {upload: {settings: {storeMaxBytes: -2}}}", nil, "'/services/upload/settings/storeMaxBytes'", true},
	{"upload token ttl format", "services: {upload: {settings: {tokenTTL: 1 hour}}}", nil, "'/services/upload/settings/tokenTTL'", true},
	{"unknown upload setting", "services: {upload: {settings: {chunk: 1}}}", nil, "additional properties 'chunk' not allowed", true},
	{"auth timeout format", "services: {gateway: {settings: {authTimeout: 5}}}", nil, "'/services/gateway/settings/authTimeout'", true},
	{"preauth max message bytes minimum", "services: {gateway: {settings: {preAuthMaxMessageBytes: 0}}}", nil, "'/services/gateway/settings/preAuthMaxMessageBytes'", true},
	{"max sockets per ip negative", "services: {gateway: {settings: {maxSocketsPerIP: -1}}}", []string{"--set", "services.gateway.settings.maxSocketsPerIP=-1"}, "'/services/gateway/settings/maxSocketsPerIP'", true},
	{"max sockets per principal type", "services: {gateway: {settings: {maxSocketsPerPrincipal: many}}}", nil, "'/services/gateway/settings/maxSocketsPerPrincipal'", true},
	{"trusted proxy not an address", `services: {gateway: {settings: {trustedProxies: ["ingress-nginx"]}}}`, nil, "'/services/gateway/settings/trustedProxies/0'", true},
	{"ingest lag not a duration", "services: {gateway: {settings: {ingestMaxLag: fast}}}", nil, "'/services/gateway/settings/ingestMaxLag'", true},
	{"ingest backlog negative", "services: {gateway: {settings: {ingestMaxBacklog: -1}}}", nil, "'/services/gateway/settings/ingestMaxBacklog'", true},
	{"read budget bytes negative", "services: {gateway: {settings: {readBudgetBytes: -1}}}", nil, "'/services/gateway/settings/readBudgetBytes'", true},
	{"read budget wait format", "services: {gateway: {settings: {readBudgetWait: 5 seconds}}}", nil, "'/services/gateway/settings/readBudgetWait'", true},
	// Settings of this wave: push, chat, device (gateway), session quotas and jobs, relay endpoint grace.
	{"push loopbackOpen type", "push: {loopbackOpen: sometimes}", []string{"--set", "push.loopbackOpen=sometimes"}, "'/push/loopbackOpen'", true},
	{"push allowed origin without scheme", `push: {allowedOrigins: ["app.example.com"]}`, nil, "'/push/allowedOrigins/0'", true},
	{"chat compat port type", "chat: {compatPort: '3000'}", nil, "'/chat/compatPort'", true},
	{"chat compat port range", "chat: {compatPort: 70000}", []string{"--set", "chat.compatPort=70000"}, "'/chat/compatPort'", true},
	{"chat endpoints scope", `chat: {endpoints: ["team:T1=ep"]}`, nil, "'/chat/endpoints/0'", true},
	{"chat followup mode enum", "chat: {followupMode: merge}", []string{"--set", "chat.followupMode=merge"}, "'/chat/followupMode'", true},
	{"chat followup modes entry", `chat: {followupModes: ["ep-a=later"]}`, nil, "'/chat/followupModes/0'", true},
	{"chat attachments enabled type", "chat: {attachmentsEnabled: maybe}", nil, "'/chat/attachmentsEnabled'", true},
	{"chat attachment extension with comma", `chat: {attachmentsAllowedExtensions: ["png,jpg"]}`, nil, "'/chat/attachmentsAllowedExtensions/0'", true},
	{"chat attachments max bytes minimum", "chat: {attachmentsMaxBytes: 0}", nil, "'/chat/attachmentsMaxBytes'", true},
	{"chat attachments max bytes type", "chat: {attachmentsMaxBytes: 7MiB}", nil, "'/chat/attachmentsMaxBytes'", true},
	{"chat attachments max files negative", "chat: {attachmentsMaxFiles: -1}", []string{"--set", "chat.attachmentsMaxFiles=-1"}, "'/chat/attachmentsMaxFiles'", true},
	{"unknown chat key", "chat: {compatListen: ':3000'}", nil, "additional properties 'compatListen' not allowed", true},
	{"device compat port range", "device: {compatPort: -1}", nil, "'/device/compatPort'", true},
	{"device request timeout format", "device: {requestTimeout: 30}", nil, "'/device/requestTimeout'", true},
	{"device install timeout format", "device: {installTimeout: half an hour}", nil, "'/device/installTimeout'", true},
	{"device pairing code ttl format", "device: {pairingCodeTTL: 1 minute}", nil, "'/device/pairingCodeTTL'", true},
	{"device pairing window format", "device: {pairingWindow: '5'}", nil, "'/device/pairingWindow'", true},
	{"device pairing per device minimum", "device: {pairingPerDevice: 0}", []string{"--set", "device.pairingPerDevice=0"}, "'/device/pairingPerDevice'", true},
	{"device pairing per addr type", "device: {pairingPerAddr: ten}", nil, "'/device/pairingPerAddr'", true},
	{"device show code type", "device: {showCode: yes please}", nil, "'/device/showCode'", true},
	{"device progress every format", "device: {progressEvery: fast}", nil, "'/device/progressEvery'", true},
	{"device download base scheme", "device: {downloadBase: 'ftp://dl.example'}", nil, "'/device/downloadBase'", true},
	{"unknown device key", "device: {pairingTTL: 1m}", nil, "additional properties 'pairingTTL' not allowed", true},
	{"transcript msgs per session below -1", "services: {session: {settings: {transcriptMaxMsgsPerSession: -2}}}", nil, "'/services/session/settings/transcriptMaxMsgsPerSession'", true},
	{"seq floor interval format", "services: {session: {settings: {seqFloorInterval: 1 second}}}", nil, "'/services/session/settings/seqFloorInterval'", true},
	{"user messages per minute negative", "services: {session: {settings: {userMessagesPerMinute: -1}}}", nil, "'/services/session/settings/userMessagesPerMinute'", true},
	{"user bytes per hour type", "services: {session: {settings: {userBytesPerHour: 256MiB}}}", nil, "'/services/session/settings/userBytesPerHour'", true},
	{"job run timeout format", "services: {session: {settings: {jobRunTimeout: 10 minutes}}}", nil, "'/services/session/settings/jobRunTimeout'", true},
	{"job lease format", "services: {session: {settings: {jobLease: '30'}}}", nil, "'/services/session/settings/jobLease'", true},
	{"job catch up negative", "services: {session: {settings: {jobCatchUp: -1h}}}", nil, "'/services/session/settings/jobCatchUp'", true},
	{"job max attempts minimum", "services: {session: {settings: {jobMaxAttempts: 0}}}", []string{"--set", "services.session.settings.jobMaxAttempts=0"}, "'/services/session/settings/jobMaxAttempts'", true},
	{"job run record ttl format", "services: {session: {settings: {jobRunRecordTTL: a day}}}", nil, "'/services/session/settings/jobRunRecordTTL'", true},
	{"endpoint owner grace format", "services: {relay: {settings: {endpointOwnerGrace: 15 minutes}}}", nil, "'/services/relay/settings/endpointOwnerGrace'", true},
	// Cross-field rules the schema cannot express: template fail() checks.
	{"internal port equals public port", "services: {gateway: {internalPort: 8080}}", []string{"--set", "services.gateway.internalPort=8080"}, "internalPort (8080) must differ from port", false},
	{"sentinel master without addrs", "redis: {masterName: mymaster}", nil, "redis.masterName (Sentinel) needs redis.addrs", false},
	{"sentinel and cluster", `redis: {addrs: ["a:26379"], masterName: m, cluster: true}`, nil, "exclude each other", false},
	{"embedded redis with sentinel", `redis: {embedded: {enabled: true}, addrs: ["a:26379"]}`, nil, "redis.embedded is one plain Redis server", false},
	{"embedded nats with creds", "nats: {embedded: {enabled: true}, creds: {secretName: c}}", nil, "nats.embedded runs without authentication or TLS", false},
	{"creds and nkey", "nats: {creds: {secretName: c}, nkey: {secretName: nk}}", nil, "nats.creds and nats.nkey exclude each other", false},
	{"jwt leeway above 5m", "jwt: {hmacSecret: '0123456789abcdef0123456789abcdef', leeway: 10m}", nil, "jwt.leeway (10m) must be at most 5m", false},
	{"jwks refresh above 24h", "jwt: {jwksURL: 'https://idp/jwks', jwksRefresh: 48h}", nil, "jwt.jwksRefresh (48h) must be within 1s..24h", false},
	{"jwks min refresh above refresh", "jwt: {jwksURL: 'https://idp/jwks', jwksRefresh: 1m, jwksMinRefresh: 2m}", nil, "jwt.jwksMinRefresh (2m) must be within 100ms..jwt.jwksRefresh (1m)", false},
	{"extraEnv repeats a chart env", "services: {gateway: {extraEnv: [{name: SY_PING_PERIOD, value: 1s}]}}", nil, "SY_PING_PERIOD is set by the chart", false},
	{"extraEnv sets GOMEMLIMIT", "services: {relay: {extraEnv: [{name: GOMEMLIMIT, value: 1GiB}]}}", nil, "GOMEMLIMIT is set by the chart", false},
	{"extraEnv sets the NATS URL", "services: {session: {extraEnv: [{name: SY_NATS_URL, value: 'nats://x:4222'}]}}", nil, "SY_NATS_URL is set by the chart", false},
	{"gomemlimit unreadable limit", "services: {gateway: {resources: {limits: {memory: '1e9'}}}}", nil, "goMemLimit: cannot read the memory limit", false},
	{"upload max chunk below chunk size", "services: {upload: {enabled: true, settings: {chunkSize: 2097152, maxChunk: 1048576}}}", nil, "maxChunk (1048576) must be at least chunkSize (2097152)", false},
	{"httproute without parents", "services: {gateway: {httpRoute: {enabled: true}}}", []string{"--set", "services.gateway.httpRoute.enabled=true"}, "httpRoute.parentRefs: name at least one Gateway", false},
	{"probe token not a client token", `tokens: {client: ["a=alice"], probe: zzz}`, nil, "tokens.probe must be the token part", false},
	{"hpa min > max", "services: {gateway: {autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 2}}}", nil, "minReplicas (5) > maxReplicas (2)", false},
	{"drain jitter > drain timeout", "services: {gateway: {settings: {drainJitterSeconds: 25}}}", []string{"--set", "services.gateway.settings.drainJitterSeconds=25"}, "drainJitterSeconds (25) must not exceed drainTimeoutSeconds (20)", false},
	{"drain jitter > drain timeout (file)", "services: {gateway: {settings: {drainTimeoutSeconds: 10, drainJitterSeconds: 11}}}", nil, "drainJitterSeconds (11) must not exceed drainTimeoutSeconds (10)", false},
	{"owner ttl not above heartbeat", "shared: {heartbeat: 20s, ownerTTL: 15s}", nil, "shared.ownerTTL (15s) must exceed shared.heartbeat (20s)", false},
	{"owner ttl equal heartbeat, other units", "shared: {heartbeat: 1m, ownerTTL: 60000ms}", nil, "shared.ownerTTL (60000ms) must exceed shared.heartbeat (1m)", false},
	{"pong wait not above ping period", "services: {gateway: {settings: {pingPeriod: 1m, pongWait: 30s}}}", nil, "pongWait (30s) must exceed pingPeriod (1m)", false},
	{"zero duration", "services: {relay: {settings: {deliveryWait: 0s}}}", nil, "services.relay.settings.deliveryWait (0s) must be a positive duration", false},
	{"zero permission timeout", "services: {session: {settings: {permissionTimeout: 0s}}}", nil, "services.session.settings.permissionTimeout (0s) must be a positive duration", false},
	{"zero sweep interval", "services: {session: {settings: {sweepInterval: 0ms}}}", nil, "services.session.settings.sweepInterval (0ms) must be a positive duration", false},
	{"zero request timeout", "shared: {requestTimeout: 0ms}", nil, "shared.requestTimeout (0ms) must be a positive duration", false},
	{"read budget below one frame", "services: {gateway: {settings: {readBudgetBytes: 1048576}}}", nil, "readBudgetBytes (1048576) must be 0 (off) or hold one frame of maxMessageBytes (10485760)", false},
	{"zero auth timeout", "services: {gateway: {settings: {authTimeout: 0s}}}", nil, "services.gateway.settings.authTimeout (0s) must be a positive duration", false},
	{"chat compat port equals gateway port", "chat: {compatPort: 8080}", []string{"--set", "chat.compatPort=8080"}, "chat.compatPort (8080) must differ from services.gateway.port", false},
	{"device compat port equals internal port", "device: {compatPort: 9090}", nil, "device.compatPort (9090) must differ from services.gateway.internalPort", false},
	{"chat and device compat on one port", "chat: {compatPort: 3000}\ndevice: {compatPort: 3000}", nil, "device.compatPort (3000) must differ from chat.compatPort", false},
	{"device pairing code ttl below 1s", "device: {pairingCodeTTL: 500ms}", nil, "device.pairingCodeTTL (500ms) must be at least 1s", false},
	{"zero device request timeout", "device: {requestTimeout: 0s}", nil, "device.requestTimeout (0s) must be a positive duration", false},
	{"zero seq floor interval", "services: {session: {settings: {seqFloorInterval: 0s}}}", nil, "services.session.settings.seqFloorInterval (0s) must be a positive duration", false},
	{"job lease below 3ms", "services: {session: {settings: {jobLease: 1ms}}}", nil, "services.session.settings.jobLease (1ms) must be at least 3ms", false},
	{"job run record ttl too short", "services: {session: {settings: {jobRunRecordTTL: 1h}}}", []string{"--set", "services.session.settings.jobRunRecordTTL=1h"}, "jobRunRecordTTL (1h) must exceed jobCatchUp + jobMaxAttempts x (jobRunTimeout + jobLease)", false},
	{"stream replicas on embedded nats", "nats: {embedded: {enabled: true}}\nshared: {streamReplicas: 3}", nil, "shared.streamReplicas (3) needs a JetStream cluster", false},
}

func TestSchemaRejectsBadValues(t *testing.T) {
	s := compileSchema(t)
	defaults := defaultValues(t)
	for _, bc := range badCases {
		vals := coalesce(defaults, yamlMap(t, []byte(bc.overlay)))
		err := validateValues(t, s, vals)
		if bc.schema && err == nil {
			t.Errorf("%s: schema accepted %s", bc.name, bc.overlay)
		}
		if !bc.schema && err != nil {
			t.Errorf("%s: meant as a template check, but the schema already rejects it: %v", bc.name, err)
		}
	}
}

// helm itself enforces values.schema.json (and the template checks) on
// `helm template`, so bad values never reach a cluster.
func TestHelmRejectsBadValues(t *testing.T) {
	requireHelm(t)
	dir := t.TempDir()
	for i, bc := range badCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			args := bc.set
			if args == nil {
				f := filepath.Join(dir, "bad-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".yaml")
				if err := os.WriteFile(f, []byte(bc.overlay+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				args = []string{"-f", f}
			}
			_, stderr, err := helmTemplate(t, args...)
			if err == nil {
				t.Fatalf("helm template %v succeeded, want a failure mentioning %s", args, bc.want)
			}
			if !strings.Contains(string(stderr), bc.want) {
				t.Fatalf("helm template %v failed without mentioning %s:\n%s", args, bc.want, stderr)
			}
		})
	}
}
