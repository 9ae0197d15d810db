{{/*
Service traits: what the contract fixes per binary and users must not tune.
  listenEnv: env var holding the listen address (the binaries default to 127.0.0.1).
  public:    takes client traffic (gateway Service port 80, Ingress, helm test probe).
  tokens:    gets SY_RUNTIME_TOKENS / SY_CLIENT_TOKENS from the Secret.
Adding a service (e.g. upload) = one line here + a block under .Values.services
+ one property in values.schema.json.
*/}}
{{- define "switchyard.traits" -}}
gateway: {listenEnv: SY_LISTEN, public: true, tokens: true}
session: {listenEnv: SY_HTTP_LISTEN, public: false, tokens: false}
relay: {listenEnv: SY_HTTP_LISTEN, public: false, tokens: false}
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

{{/* gateway settings key -> env var; durations are Go duration strings. */}}
{{- define "switchyard.settingsEnv" -}}
pingPeriod: SY_PING_PERIOD
pongWait: SY_PONG_WAIT
writeWait: SY_WRITE_WAIT
requestTimeout: SY_REQUEST_TIMEOUT
maxMessageBytes: SY_MAX_MESSAGE_BYTES
sendQueueFrames: SY_SEND_QUEUE_FRAMES
sendQueueBytes: SY_SEND_QUEUE_BYTES
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
