{{/*
Service traits: what the contract fixes per binary and users must not tune.
  listenEnv:   env var holding the public listen address (public services only; the
               binaries default to 127.0.0.1). Port services.<name>.port, named "http".
  internalListenEnv: env var of the internal listener (/metrics, /healthz, /readyz,
               pprof; probes and scraping). Port named "internal": services.<name>.internalPort
               for public services, services.<name>.port for the others.
  public:      takes client traffic (gateway Service port 80, Ingress, HTTPRoute, helm test probe).
  secretEnv:   env vars taken from the tokens Secret (same key name). The relay
               checks runtime tokens (runtime.hello), the gateway client tokens.
  settingsEnv: services.<name>.settings key -> env var. Keys ending in "Seconds"
               are integers rendered as Go durations ("20" -> "20s").
  zeroDurationOK: settings keys whose duration may be zero (0 = feature off);
               every other duration must be positive (switchyard.validate).
Adding a service = one entry here + a block under .Values.services
+ one property in values.schema.json.
*/}}
{{- define "switchyard.traits" -}}
gateway:
  listenEnv: SY_LISTEN
  internalListenEnv: SY_INTERNAL_LISTEN
  public: true
  secretEnv: [SY_CLIENT_TOKENS, SY_ADMIN_TOKENS]
  settingsEnv:
    drainTimeoutSeconds: SY_DRAIN_TIMEOUT
    drainJitterSeconds: SY_DRAIN_JITTER
    pingPeriod: SY_PING_PERIOD
    pongWait: SY_PONG_WAIT
    writeWait: SY_WRITE_WAIT
    maxMessageBytes: SY_MAX_MESSAGE_BYTES
    sendQueueFrames: SY_SEND_QUEUE_FRAMES
    sendQueueBytes: SY_SEND_QUEUE_BYTES
    historyPage: SY_HISTORY_PAGE
    rateLimit: SY_RATE_LIMIT
    rateBurst: SY_RATE_BURST
    runtimeRateLimit: SY_RUNTIME_RATE_LIMIT
    runtimeRateBurst: SY_RUNTIME_RATE_BURST
    tokenRefreshBefore: SY_TOKEN_REFRESH_BEFORE
    maxFileBytes: SY_MAX_FILE_BYTES
    traceOutputRatio: SY_TRACE_OUTPUT_RATIO
    authTimeout: SY_AUTH_TIMEOUT
    preAuthMaxMessageBytes: SY_PREAUTH_MAX_MESSAGE_BYTES
    maxSocketsPerIP: SY_MAX_SOCKETS_PER_IP
    maxSocketsPerPrincipal: SY_MAX_SOCKETS_PER_PRINCIPAL
    trustedProxies: SY_TRUSTED_PROXIES
    readBudgetBytes: SY_READ_BUDGET_BYTES
    readBudgetWait: SY_READ_BUDGET_WAIT
    ingestMaxBacklog: SY_INGEST_MAX_BACKLOG
    ingestMaxLag: SY_INGEST_MAX_LAG
    directAppend: SY_DIRECT_APPEND
session:
  internalListenEnv: SY_HTTP_LISTEN
  public: false
  secretEnv: []
  settingsEnv:
    ackWait: SY_ACK_WAIT
    partitionWindow: SY_PARTITION_WINDOW
    transcriptMaxAge: SY_TRANSCRIPT_MAX_AGE
    transcriptMaxBytes: SY_TRANSCRIPT_MAX_BYTES
    permissionTimeout: SY_PERMISSION_TIMEOUT
    sessionIdle: SY_SESSION_IDLE
    sweepInterval: SY_SWEEP_INTERVAL
    transcriptMaxMsgsPerSession: SY_TRANSCRIPT_MAX_MSGS_PER_SESSION
    seqFloorInterval: SY_SEQ_FLOOR_INTERVAL
    userMessagesPerMinute: SY_USER_MESSAGES_PER_MINUTE
    userBytesPerHour: SY_USER_BYTES_PER_HOUR
    jobRunTimeout: SY_JOB_RUN_TIMEOUT
    jobLease: SY_JOB_LEASE
    jobCatchUp: SY_JOB_CATCH_UP
    jobMaxAttempts: SY_JOB_MAX_ATTEMPTS
    jobRunRecordTTL: SY_JOB_RUN_RECORD_TTL
  zeroDurationOK: [sessionIdle, jobCatchUp]
relay:
  internalListenEnv: SY_HTTP_LISTEN
  public: false
  secretEnv: [SY_RUNTIME_TOKENS]
  settingsEnv:
    ackWait: SY_ACK_WAIT
    partitionWindow: SY_PARTITION_WINDOW
    deliveryWait: SY_DELIVERY_WAIT
    runtimeTokenTTL: SY_RUNTIME_TOKEN_TTL
    runtimeTokenGrace: SY_RUNTIME_TOKEN_GRACE
    endpointOwnerGrace: SY_ENDPOINT_OWNER_GRACE
  zeroDurationOK: [endpointOwnerGrace]
upload:
  internalListenEnv: SY_HTTP_LISTEN
  public: false
  secretEnv: []
  settingsEnv:
    chunkSize: SY_UPLOAD_CHUNK_SIZE
    maxChunk: SY_UPLOAD_MAX_CHUNK
    maxFiles: SY_UPLOAD_MAX_FILES
    maxTotalBytes: SY_UPLOAD_MAX_TOTAL_BYTES
    storeMaxBytes: SY_UPLOAD_STORE_MAX_BYTES
    tokenTTL: SY_UPLOAD_TOKEN_TTL
    eventInterval: SY_UPLOAD_EVENT_INTERVAL
    workers: SY_UPLOAD_WORKERS
{{- end -}}

{{/* Traits of one service: include "switchyard.trait" (list $ "gateway") */}}
{{- define "switchyard.trait" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $all := fromYaml (include "switchyard.traits" $root) -}}
{{- if not (hasKey $all $name) -}}
{{- fail (printf "services.%s: no traits defined in templates/_helpers.tpl (known: %s)" $name (keys $all | sortAlpha | join ", ")) -}}
{{- end -}}
{{- toYaml (get $all $name) -}}
{{- end -}}

{{/*
Gateway feature blocks: value key -> env var (rendered into the gateway's ConfigMap
by switchyard.envLines; compatPort is rendered apart, as a listen address).
*/}}
{{- define "switchyard.pushEnv" -}}
requireToken: SY_PUSH_REQUIRE_TOKEN
loopbackOpen: SY_PUSH_LOOPBACK_OPEN
allowedOrigins: SY_PUSH_ALLOWED_ORIGINS
{{- end -}}

{{- define "switchyard.chatEnv" -}}
defaultEndpoint: SY_CHAT_DEFAULT_ENDPOINT
endpoints: SY_CHAT_ENDPOINTS
followupMode: SY_CHAT_FOLLOWUP_MODE
followupModes: SY_CHAT_FOLLOWUP_MODES
attachmentsEnabled: SY_CHAT_ATTACHMENTS_ENABLED
attachmentsAllowedExtensions: SY_CHAT_ATTACHMENTS_ALLOWED_EXTENSIONS
attachmentsMaxBytes: SY_CHAT_ATTACHMENTS_MAX_BYTES
attachmentsMaxFiles: SY_CHAT_ATTACHMENTS_MAX_FILES
{{- end -}}

{{- define "switchyard.deviceEnv" -}}
compatDevice: SY_DEVICE_COMPAT_DEVICE
requestTimeout: SY_DEVICE_REQUEST_TIMEOUT
installTimeout: SY_DEVICE_INSTALL_TIMEOUT
pairingCodeTTL: SY_DEVICE_PAIRING_CODE_TTL
pairingWindow: SY_DEVICE_PAIRING_WINDOW
pairingPerDevice: SY_DEVICE_PAIRING_PER_DEVICE
pairingPerAddr: SY_DEVICE_PAIRING_PER_ADDR
showCode: SY_DEVICE_SHOW_CODE
progressEvery: SY_DEVICE_PROGRESS_EVERY
downloadBase: SY_DEVICE_DOWNLOAD_BASE
{{- end -}}

{{/* Listen address of a compatibility listener port: "" (off) for 0. */}}
{{- define "switchyard.compatListen" -}}
{{- if . }}{{ printf "0.0.0.0:%d" (int .) }}{{ end -}}
{{- end -}}

{{/* Settings every service must agree on: shared key -> env var (in every ConfigMap). */}}
{{- define "switchyard.sharedEnv" -}}
partitions: SY_PARTITIONS
streamReplicas: SY_STREAM_REPLICAS
namespace: SY_NAMESPACE
heartbeat: SY_HEARTBEAT
ownerTTL: SY_OWNER_TTL
requestTimeout: SY_REQUEST_TIMEOUT
{{- end -}}

{{/*
Render a settings map as env lines: include "switchyard.envLines" (list <settings> <key->env map> <where>).
Whole numbers are printed without exponent (YAML numbers reach helm as float64),
fractional ones as is (rateLimit 0.5 -> "0.5"); "*Seconds" keys become "<n>s";
lists become comma lists ([a, b] -> "a,b"), booleans "true"/"false".
*/}}
{{- define "switchyard.envLines" -}}
{{- $settings := index . 0 -}}
{{- $envMap := index . 1 -}}
{{- $where := index . 2 -}}
{{- range $key := keys $settings | sortAlpha }}
{{- if not (hasKey $envMap $key) }}
{{- fail (printf "%s.%s: no env var mapped for this key in templates/_helpers.tpl" $where $key) }}
{{- end }}
{{- $v := get $settings $key }}
{{- if and (kindIs "float64" $v) (eq (floor $v) $v) }}{{ $v = int64 $v }}{{ end }}
{{- if hasSuffix "Seconds" $key }}{{ $v = printf "%ds" (int64 $v) }}{{ end }}
{{- if kindIs "slice" $v }}{{ $v = join "," $v }}{{ end }}
{{ get $envMap $key }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/*
Go duration string -> milliseconds (a float, as a string): include "switchyard.durationMs" "1m30s" -> "90000".
The schema already checked the format.
*/}}
{{- define "switchyard.durationMs" -}}
{{- $units := dict "ns" 0.000001 "us" 0.001 "µs" 0.001 "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0 -}}
{{- $ms := 0.0 -}}
{{- range $part := regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" (toString .) -1 -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $part -}}
{{- $ms = addf $ms (mulf (float64 $num) (get $units (trimPrefix $num $part))) -}}
{{- end -}}
{{- $ms -}}
{{- end -}}

{{/*
Cross-field rules values.schema.json cannot express (the binaries enforce the
same at startup; failing here keeps a bad value from reaching the cluster).
*/}}
{{- define "switchyard.validate" -}}
{{- $sh := .Values.shared -}}
{{- $durations := dict "shared" (omit $sh "namespace") -}}
{{- $zeroOK := dict -}}
{{- range $name := include "switchyard.enabledServices" . | fromJsonArray -}}
{{- $where := printf "services.%s.settings" $name -}}
{{- $_ := set $durations $where (dig "settings" dict (get $.Values.services $name)) -}}
{{- range $key := (include "switchyard.trait" (list $ $name) | fromYaml).zeroDurationOK | default list -}}
{{- $_ := set $zeroOK (printf "%s.%s" $where $key) true -}}
{{- end -}}
{{- end -}}
{{- if .Values.services.gateway.enabled -}}
{{- $_ := set $durations "device" (pick .Values.device "requestTimeout" "installTimeout" "pairingCodeTTL" "pairingWindow" "progressEvery") -}}
{{- end -}}
{{- range $where, $settings := $durations -}}
{{- range $key, $v := $settings -}}
{{- if and (kindIs "string" $v) (not (hasKey $zeroOK (printf "%s.%s" $where $key))) (le (include "switchyard.durationMs" $v | float64) 0.0) -}}
{{- fail (printf "%s.%s (%s) must be a positive duration" $where $key $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if le (include "switchyard.durationMs" $sh.ownerTTL | float64) (include "switchyard.durationMs" $sh.heartbeat | float64) -}}
{{- fail (printf "shared.ownerTTL (%s) must exceed shared.heartbeat (%s)" $sh.ownerTTL $sh.heartbeat) -}}
{{- end -}}
{{- if and .Values.nats.embedded.enabled (gt (int $sh.streamReplicas) 1) -}}
{{- fail (printf "shared.streamReplicas (%d) needs a JetStream cluster of at least that many servers; nats.embedded is a single server: use 1" (int $sh.streamReplicas)) -}}
{{- end -}}
{{- $r := .Values.redis -}}
{{- if and $r.masterName (not $r.addrs) -}}
{{- fail "redis.masterName (Sentinel) needs redis.addrs: the Sentinels' host:port list" -}}
{{- end -}}
{{- if and $r.masterName $r.cluster -}}
{{- fail "redis.masterName (Sentinel) and redis.cluster (Redis Cluster) exclude each other" -}}
{{- end -}}
{{- if and $r.embedded.enabled (or $r.addrs $r.masterName $r.cluster $r.existingSecret) -}}
{{- fail "redis.embedded is one plain Redis server: unset redis.addrs, masterName, cluster and existingSecret" -}}
{{- end -}}
{{- $n := .Values.nats -}}
{{- if and $n.embedded.enabled (or $n.existingSecret $n.creds.secretName $n.nkey.secretName $n.tls.ca.secretName $n.tls.clientCert.secretName) -}}
{{- fail "nats.embedded runs without authentication or TLS: unset nats.existingSecret, creds, nkey and tls" -}}
{{- end -}}
{{- if and $n.creds.secretName $n.nkey.secretName -}}
{{- fail "nats.creds and nats.nkey exclude each other (a creds file already holds the nkey seed)" -}}
{{- end -}}
{{- $j := .Values.jwt -}}
{{- if include "switchyard.jwtEnabled" . -}}
{{- $leeway := include "switchyard.durationMs" $j.leeway | float64 -}}
{{- if gt $leeway 300000.0 -}}
{{- fail (printf "jwt.leeway (%s) must be at most 5m" $j.leeway) -}}
{{- end -}}
{{- if $j.jwksURL -}}
{{- $ref := include "switchyard.durationMs" $j.jwksRefresh | float64 -}}
{{- $min := include "switchyard.durationMs" $j.jwksMinRefresh | float64 -}}
{{- if or (lt $ref 1000.0) (gt $ref 86400000.0) -}}
{{- fail (printf "jwt.jwksRefresh (%s) must be within 1s..24h" $j.jwksRefresh) -}}
{{- end -}}
{{- if or (lt $min 100.0) (gt $min $ref) -}}
{{- fail (printf "jwt.jwksMinRefresh (%s) must be within 100ms..jwt.jwksRefresh (%s)" $j.jwksMinRefresh $j.jwksRefresh) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ss := .Values.services.session -}}
{{- if $ss.enabled -}}
{{- $s := $ss.settings -}}
{{- if lt (include "switchyard.durationMs" $s.jobLease | float64) 3.0 -}}
{{- fail (printf "services.session.settings.jobLease (%s) must be at least 3ms" $s.jobLease) -}}
{{- end -}}
{{- $need := addf (include "switchyard.durationMs" $s.jobCatchUp | float64) (mulf (float64 $s.jobMaxAttempts) (addf (include "switchyard.durationMs" $s.jobRunTimeout | float64) (include "switchyard.durationMs" $s.jobLease | float64))) -}}
{{- if le (include "switchyard.durationMs" $s.jobRunRecordTTL | float64) $need -}}
{{- fail (printf "services.session.settings: jobRunRecordTTL (%s) must exceed jobCatchUp + jobMaxAttempts x (jobRunTimeout + jobLease) (%s + %d x (%s + %s))" $s.jobRunRecordTTL $s.jobCatchUp (int $s.jobMaxAttempts) $s.jobRunTimeout $s.jobLease) -}}
{{- end -}}
{{- end -}}
{{- $up := .Values.services.upload -}}
{{- if and $up.enabled (lt (int64 $up.settings.maxChunk) (int64 $up.settings.chunkSize)) -}}
{{- fail (printf "services.upload.settings: maxChunk (%d) must be at least chunkSize (%d)" (int64 $up.settings.maxChunk) (int64 $up.settings.chunkSize)) -}}
{{- end -}}
{{- $gw := .Values.services.gateway -}}
{{- if $gw.enabled -}}
{{- if eq (int $gw.port) (int $gw.internalPort) -}}
{{- fail (printf "services.gateway: internalPort (%d) must differ from port: the internal listener (metrics, pprof) stays off the public Service" (int $gw.internalPort)) -}}
{{- end -}}
{{- $ports := dict (toString (int $gw.port)) "services.gateway.port" (toString (int $gw.internalPort)) "services.gateway.internalPort" -}}
{{- range $what, $p := dict "chat.compatPort" .Values.chat.compatPort "device.compatPort" .Values.device.compatPort -}}
{{- if $p -}}
{{- $k := toString (int $p) -}}
{{- if hasKey $ports $k -}}
{{- fail (printf "%s (%d) must differ from %s" $what (int $p) (get $ports $k)) -}}
{{- end -}}
{{- $_ := set $ports $k $what -}}
{{- end -}}
{{- end -}}
{{- if lt (include "switchyard.durationMs" .Values.device.pairingCodeTTL | float64) 1000.0 -}}
{{- fail (printf "device.pairingCodeTTL (%s) must be at least 1s" .Values.device.pairingCodeTTL) -}}
{{- end -}}
{{- $s := $gw.settings -}}
{{- if gt (int $s.drainJitterSeconds) (int $s.drainTimeoutSeconds) -}}
{{- fail (printf "services.gateway.settings: drainJitterSeconds (%d) must not exceed drainTimeoutSeconds (%d)" (int $s.drainJitterSeconds) (int $s.drainTimeoutSeconds)) -}}
{{- end -}}
{{- if and (gt (int64 $s.readBudgetBytes) 0) (lt (int64 $s.readBudgetBytes) (int64 $s.maxMessageBytes)) -}}
{{- fail (printf "services.gateway.settings: readBudgetBytes (%d) must be 0 (off) or hold one frame of maxMessageBytes (%d)" (int64 $s.readBudgetBytes) (int64 $s.maxMessageBytes)) -}}
{{- end -}}
{{- if le (include "switchyard.durationMs" $s.pongWait | float64) (include "switchyard.durationMs" $s.pingPeriod | float64) -}}
{{- fail (printf "services.gateway.settings: pongWait (%s) must exceed pingPeriod (%s)" $s.pongWait $s.pingPeriod) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fullname is capped at 48 chars so "<fullname>-<service>" stays a valid DNS label. */}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels; call with (list $ "component"). */}}
{{- define "switchyard.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "switchyard.chart" $root }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- end -}}

{{/* Selector labels; call with (list $ "component"). Unique per component. */}}
{{- define "switchyard.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "switchyard.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image of a switchyard service; call with (list $ "gateway"). */}}
{{- define "switchyard.image" -}}
{{- $root := index . 0 -}}
{{- $img := $root.Values.image -}}
{{- $repo := printf "%s/%s" $img.repositoryPrefix (index . 1) -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "switchyard.secretName" -}}
{{- default (printf "%s-tokens" (include "switchyard.fullname" .)) .Values.tokens.existingSecret -}}
{{- end -}}

{{/*
Data of the tokens Secret (when the chart renders it). Readers:
  SY_RUNTIME_TOKENS -> relay (checks runtime.hello), SY_CLIENT_TOKENS and
  SY_ADMIN_TOKENS -> gateway, SY_PROBE_TOKEN -> the helm test pod.
*/}}
{{- define "switchyard.secretData" -}}
SY_RUNTIME_TOKENS: {{ join "," .Values.tokens.runtime | quote }}
SY_CLIENT_TOKENS: {{ join "," .Values.tokens.client | quote }}
SY_ADMIN_TOKENS: {{ join "," .Values.tokens.admin | quote }}
SY_PROBE_TOKEN: {{ include "switchyard.probeToken" . | quote }}
{{- end -}}

{{/* Client token used by the helm test probe ("" when none is configured). */}}
{{- define "switchyard.probeToken" -}}
{{- if .Values.tokens.probe -}}
{{- .Values.tokens.probe -}}
{{- else if .Values.tokens.client -}}
{{- first (splitList "=" (first .Values.tokens.client)) -}}
{{- end -}}
{{- end -}}

{{/*
Configuration file of the in-chart NATS (nats.embedded): upload chunks are 1 MiB plus
a header, over NATS's default 1 MiB max_payload (docs/architecture.md, "NATS max payload").
*/}}
{{- define "switchyard.natsConfig" -}}
nats.conf: |
  # Written by the switchyard chart (nats.embedded); flags add -js -sd /data -m 8222.
  max_payload: 16MB
{{- end -}}

{{- define "switchyard.natsURL" -}}
{{- if .Values.nats.embedded.enabled -}}
{{- printf "nats://%s-nats:4222" (include "switchyard.fullname" .) -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.redisURL" -}}
{{- if .Values.redis.embedded.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "switchyard.fullname" .) -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds = preStop sleep + drain timeout + slack; call with the service values. */}}
{{- define "switchyard.gracePeriod" -}}
{{- $drain := dig "settings" "drainTimeoutSeconds" 0 . -}}
{{- add (int .preStopSleepSeconds) (int $drain) (int .extraGracePeriodSeconds) -}}
{{- end -}}

{{/* Enabled services in a stable order: list of names. */}}
{{- define "switchyard.enabledServices" -}}
{{- $out := list -}}
{{- range $name := keys .Values.services | sortAlpha -}}
{{- if (get $.Values.services $name).enabled -}}
{{- $out = append $out $name -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}


{{/* Internal port (metrics, health, pprof) of a service; call with (list $ "gateway"). */}}
{{- define "switchyard.internalPort" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := get $root.Values.services $name -}}
{{- $trait := include "switchyard.trait" (list $root $name) | fromYaml -}}
{{- if $trait.public }}{{ int $svc.internalPort }}{{ else }}{{ int $svc.port }}{{ end -}}
{{- end -}}

{{/* Name of the Secret holding SY_NATS_URL / SY_REDIS_URL and Redis credentials. */}}
{{- define "switchyard.connectionSecretName" -}}
{{- printf "%s-connection" (include "switchyard.fullname" .) -}}
{{- end -}}

{{/*
Data of the connection Secret the chart renders: the NATS and Redis URLs (they may
carry passwords, so never in a ConfigMap) and the Redis credentials, each unless an
existing Secret provides it. Empty when both come from existing Secrets.
*/}}
{{- define "switchyard.connectionData" -}}
{{- $v := .Values -}}
{{- if not $v.nats.existingSecret }}
SY_NATS_URL: {{ include "switchyard.natsURL" . | quote }}
{{- end }}
{{- if not $v.redis.existingSecret }}
SY_REDIS_URL: {{ include "switchyard.redisURL" . | quote }}
{{- range $key, $env := include "switchyard.redisCredentialEnv" . | fromYaml }}
{{- with get $v.redis $key }}
{{ $env }}: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Redis credential values -> env var (Secret keys of the same name). */}}
{{- define "switchyard.redisCredentialEnv" -}}
username: SY_REDIS_USERNAME
password: SY_REDIS_PASSWORD
sentinelPassword: SY_REDIS_SENTINEL_PASSWORD
{{- end -}}

{{/*
Env entries that come from Secrets for every service: SY_NATS_URL, SY_REDIS_URL and
the Redis credentials. From the chart's connection Secret, or from
nats.existingSecret / redis.existingSecret (whose Redis credential keys are optional).
*/}}
{{- define "switchyard.connectionEnv" -}}
{{- $v := .Values -}}
{{- $conn := include "switchyard.connectionData" . | fromYaml -}}
- name: SY_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "switchyard.connectionSecretName" .) $v.nats.existingSecret }}
      key: SY_NATS_URL
- name: SY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "switchyard.connectionSecretName" .) $v.redis.existingSecret }}
      key: SY_REDIS_URL
      {{- if and $v.redis.existingSecret $v.redis.addrs }}
      # Sentinel / Cluster addresses come from redis.addrs: the URL may be absent.
      optional: true
      {{- end }}
{{- range $key, $env := include "switchyard.redisCredentialEnv" . | fromYaml }}
{{- if $v.redis.existingSecret }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $env }}
      optional: true
{{- else if hasKey $conn $env }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "switchyard.connectionSecretName" $ }}
      key: {{ $env }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Secret of the JWT HS256 key: {name, key, rendered} or {} when none. */}}
{{- define "switchyard.jwtSecret" -}}
{{- $j := .Values.jwt -}}
{{- if $j.existingSecret.name -}}
{{- toYaml (dict "name" $j.existingSecret.name "key" $j.existingSecret.key "rendered" false) -}}
{{- else if $j.hmacSecret -}}
{{- toYaml (dict "name" (printf "%s-jwt" (include "switchyard.fullname" .)) "key" "hmac-secret" "rendered" true) -}}
{{- else -}}
{{- toYaml dict -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.jwtEnabled" -}}
{{- if or .Values.jwt.jwksURL (include "switchyard.jwtSecret" . | fromYaml).name }}true{{ end -}}
{{- end -}}

{{/*
Files mounted from Secrets, per service: a YAML list of {volume, secretName, items:
[{key, path}], mountPath, env: {ENV: file path}}. NATS creds / nkey / TLS for every
service, the JWT HS256 key for the gateway. The env paths go into the ConfigMap.
Call with (list $ "gateway").
*/}}
{{- define "switchyard.secretFiles" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $n := $root.Values.nats -}}
{{- $out := list -}}
{{- with $n.creds.secretName -}}
{{- $out = append $out (dict "volume" "nats-creds" "secretName" . "items" (list (dict "key" $n.creds.key "path" $n.creds.key)) "mountPath" "/etc/switchyard/nats/creds" "env" (dict "SY_NATS_CREDS" (printf "/etc/switchyard/nats/creds/%s" $n.creds.key))) -}}
{{- end -}}
{{- with $n.nkey.secretName -}}
{{- $out = append $out (dict "volume" "nats-nkey" "secretName" . "items" (list (dict "key" $n.nkey.key "path" $n.nkey.key)) "mountPath" "/etc/switchyard/nats/nkey" "env" (dict "SY_NATS_NKEY" (printf "/etc/switchyard/nats/nkey/%s" $n.nkey.key))) -}}
{{- end -}}
{{- with $n.tls.ca.secretName -}}
{{- $out = append $out (dict "volume" "nats-tls-ca" "secretName" . "items" (list (dict "key" $n.tls.ca.key "path" $n.tls.ca.key)) "mountPath" "/etc/switchyard/nats/tls-ca" "env" (dict "SY_NATS_TLS_CA" (printf "/etc/switchyard/nats/tls-ca/%s" $n.tls.ca.key))) -}}
{{- end -}}
{{- $cc := $n.tls.clientCert -}}
{{- with $cc.secretName -}}
{{- $out = append $out (dict "volume" "nats-tls-client" "secretName" . "items" (list (dict "key" $cc.certKey "path" $cc.certKey) (dict "key" $cc.keyKey "path" $cc.keyKey)) "mountPath" "/etc/switchyard/nats/tls-client" "env" (dict "SY_NATS_TLS_CERT" (printf "/etc/switchyard/nats/tls-client/%s" $cc.certKey) "SY_NATS_TLS_KEY" (printf "/etc/switchyard/nats/tls-client/%s" $cc.keyKey))) -}}
{{- end -}}
{{- if eq $name "gateway" -}}
{{- $js := include "switchyard.jwtSecret" $root | fromYaml -}}
{{- if $js.name -}}
{{- $out = append $out (dict "volume" "jwt" "secretName" $js.name "items" (list (dict "key" $js.key "path" "hmac-secret")) "mountPath" "/etc/switchyard/jwt" "env" (dict "SY_JWT_HMAC_SECRET_FILE" "/etc/switchyard/jwt/hmac-secret")) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "files" $out) -}}
{{- end -}}

{{/*
Kubernetes memory quantity -> bytes (float, as a string): include "switchyard.bytes" "1Gi".
Decimal (k, M, G, T, P, E) and binary (Ki .. Ei) suffixes; other forms fail.
*/}}
{{- define "switchyard.bytes" -}}
{{- $q := toString . -}}
{{- $m := regexFindAll "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" $q -1 -}}
{{- if not $m -}}
{{- fail (printf "goMemLimit: cannot read the memory limit %q (write it as <n>, <n>Mi, <n>Gi, ... or set goMemLimit.enabled=false)" $q) -}}
{{- end -}}
{{- $num := regexFind "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)" $q -}}
{{- $unit := trimPrefix $num $q -}}
{{- $units := dict "" "1" "k" "1000" "M" "1000000" "G" "1000000000" "T" "1000000000000" "P" "1000000000000000" "E" "1000000000000000000" "Ki" "1024" "Mi" "1048576" "Gi" "1073741824" "Ti" "1099511627776" "Pi" "1125899906842624" "Ei" "1152921504606846976" -}}
{{- mulf (float64 $num) (float64 (get $units $unit)) -}}
{{- end -}}

{{/* GOMEMLIMIT of a container: goMemLimit.percent of its memory limit, in MiB; call with (list $ <service values>). */}}
{{- define "switchyard.goMemLimit" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $lim := dig "limits" "memory" "" $svc.resources -}}
{{- if and $root.Values.goMemLimit.enabled (toString $lim) -}}
{{- $bytes := include "switchyard.bytes" $lim | float64 -}}
{{- $mib := floor (divf (mulf $bytes (float64 $root.Values.goMemLimit.percent)) 104857600.0) | int64 -}}
{{- if lt $mib 1 -}}
{{- fail (printf "goMemLimit: %d%% of the memory limit %v is below 1MiB" (int $root.Values.goMemLimit.percent) $lim) -}}
{{- end -}}
{{- printf "%dMiB" $mib -}}
{{- end -}}
{{- end -}}

{{/* Names of the env vars the chart sets in a service's container (extraEnv may not repeat them). */}}
{{- define "switchyard.chartEnvNames" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $trait := include "switchyard.trait" (list $root $name) | fromYaml -}}
{{- $names := list "SY_POD" "GOMEMLIMIT" -}}
{{- range $k, $_ := include "switchyard.configData" (list $root $name) | fromYaml }}{{ $names = append $names $k }}{{ end -}}
{{- range (include "switchyard.connectionEnv" $root | fromYamlArray) }}{{ $names = append $names .name }}{{ end -}}
{{- range $trait.secretEnv }}{{ $names = append $names . }}{{ end -}}
{{- toJson $names -}}
{{- end -}}
