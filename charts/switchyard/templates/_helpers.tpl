{{/*
Service traits: what the contract fixes per binary and users must not tune.
  listenEnv:   env var holding the listen address (the binaries default to 127.0.0.1).
  public:      takes client traffic (gateway Service port 80, Ingress, helm test probe).
  secretEnv:   env vars taken from the tokens Secret (same key name). The relay
               checks runtime tokens (runtime.hello), the gateway client tokens.
  settingsEnv: services.<name>.settings key -> env var. Keys ending in "Seconds"
               are integers rendered as Go durations ("20" -> "20s").
  zeroDurationOK: settings keys whose duration may be zero (0 = feature off);
               every other duration must be positive (switchyard.validate).
Adding a service (e.g. upload) = one entry here + a block under .Values.services
+ one property in values.schema.json.
*/}}
{{- define "switchyard.traits" -}}
gateway:
  listenEnv: SY_LISTEN
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
session:
  listenEnv: SY_HTTP_LISTEN
  public: false
  secretEnv: []
  settingsEnv:
    ackWait: SY_ACK_WAIT
    transcriptMaxAge: SY_TRANSCRIPT_MAX_AGE
    transcriptMaxBytes: SY_TRANSCRIPT_MAX_BYTES
    permissionTimeout: SY_PERMISSION_TIMEOUT
    sessionIdle: SY_SESSION_IDLE
    sweepInterval: SY_SWEEP_INTERVAL
  zeroDurationOK: [sessionIdle]
relay:
  listenEnv: SY_HTTP_LISTEN
  public: false
  secretEnv: [SY_RUNTIME_TOKENS]
  settingsEnv:
    ackWait: SY_ACK_WAIT
    deliveryWait: SY_DELIVERY_WAIT
    runtimeTokenTTL: SY_RUNTIME_TOKEN_TTL
    runtimeTokenGrace: SY_RUNTIME_TOKEN_GRACE
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

{{/* Settings every service must agree on: shared key -> env var (in every ConfigMap). */}}
{{- define "switchyard.sharedEnv" -}}
partitions: SY_PARTITIONS
streamReplicas: SY_STREAM_REPLICAS
heartbeat: SY_HEARTBEAT
ownerTTL: SY_OWNER_TTL
requestTimeout: SY_REQUEST_TIMEOUT
{{- end -}}

{{/*
Render a settings map as env lines: include "switchyard.envLines" (list <settings> <key->env map> <where>).
Whole numbers are printed without exponent (YAML numbers reach helm as float64),
fractional ones as is (rateLimit 0.5 -> "0.5"); "*Seconds" keys become "<n>s".
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
{{- $durations := dict "shared" $sh -}}
{{- $zeroOK := dict -}}
{{- range $name := include "switchyard.enabledServices" . | fromJsonArray -}}
{{- $where := printf "services.%s.settings" $name -}}
{{- $_ := set $durations $where (dig "settings" dict (get $.Values.services $name)) -}}
{{- range $key := (include "switchyard.trait" (list $ $name) | fromYaml).zeroDurationOK | default list -}}
{{- $_ := set $zeroOK (printf "%s.%s" $where $key) true -}}
{{- end -}}
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
{{- $gw := .Values.services.gateway -}}
{{- if $gw.enabled -}}
{{- $s := $gw.settings -}}
{{- if gt (int $s.drainJitterSeconds) (int $s.drainTimeoutSeconds) -}}
{{- fail (printf "services.gateway.settings: drainJitterSeconds (%d) must not exceed drainTimeoutSeconds (%d)" (int $s.drainJitterSeconds) (int $s.drainTimeoutSeconds)) -}}
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
