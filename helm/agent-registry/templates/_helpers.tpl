{{/*
Names
*/}}
{{- define "agent-registry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agent-registry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "agent-registry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Image: the tag defaults to appVersion; the config version is the 12 hex after "-cfg-".
*/}}
{{- define "agent-registry.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "agent-registry.image" -}}
{{- $registry := dig "imageRegistry" "" (.Values.global | default dict) | default .Values.image.registry }}
{{- $repository := .Values.image.repository }}
{{- if $registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}
{{- end }}
{{- $ref := printf "%s:%s" $repository (include "agent-registry.imageTag" .) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{- define "agent-registry.configVersion" -}}
{{- regexFind "-cfg-[0-9a-f]{12}$" (include "agent-registry.imageTag" .) | trimPrefix "-cfg-" }}
{{- end }}

{{/*
Labels
*/}}
{{- define "agent-registry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agent-registry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "agent-registry.labels" -}}
helm.sh/chart: {{ include "agent-registry.chart" . }}
{{ include "agent-registry.selectorLabels" . }}
app.kubernetes.io/version: {{ include "agent-registry.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: registry
app.kubernetes.io/part-of: agent-registry
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with include "agent-registry.configVersion" . }}
agent-registry/config-version: {{ . | quote }}
{{- end }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The metadata `annotations:` block: commonAnnotations plus the object's own (which win).
Takes (dict "ctx" $ "extra" <map or nil>); renders nothing when both are empty.
*/}}
{{- define "agent-registry.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) .ctx.Values.commonAnnotations }}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "agent-registry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "agent-registry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Redis. "true" when the registry uses Redis, "" for the embedded in-process store.
*/}}
{{- define "agent-registry.redisEnabled" -}}
{{- if or .Values.redis.url (ne .Values.redis.mode "standalone") }}true{{ end }}
{{- end }}

{{/* The value of REGISTRY_REDIS_URL; in sentinel mode it defaults to redis://<master>/0. */}}
{{- define "agent-registry.redisUrl" -}}
{{- if .Values.redis.url }}
{{- .Values.redis.url }}
{{- else if eq .Values.redis.mode "sentinel" }}
{{- printf "redis://%s/0" .Values.redis.sentinel.masterName }}
{{- end }}
{{- end }}

{{/* True when more than one replica can run at once. */}}
{{- define "agent-registry.multiReplica" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/*
Secrets
*/}}
{{- define "agent-registry.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "agent-registry.fullname" .)) }}
{{- end }}

{{/* "true" when the chart itself renders the Secret. */}}
{{- define "agent-registry.createSecret" -}}
{{- $s := .Values.secrets }}
{{- if and (not $s.existingSecret) (or $s.adminToken $s.agentTokens $s.redisPassword $s.redisSentinelPassword) }}true{{ end }}
{{- end }}

{{/*
The credentials the pod receives, as a JSON list of {env, key, file}: `key` is the
key in the Secret, `file` the file name under secrets.mountPath, `env` the *_FILE
variable that points at it.
*/}}
{{- define "agent-registry.secretFiles" -}}
{{- $s := .Values.secrets }}
{{- $redis := include "agent-registry.redisEnabled" . }}
{{- $sentinel := eq .Values.redis.mode "sentinel" }}
{{- $existing := ne $s.existingSecret "" }}
{{- $files := list }}
{{- if or (and $existing $s.keys.adminToken) $s.adminToken }}
{{- $files = append $files (dict "env" "REGISTRY_ADMIN_TOKEN_FILE" "key" $s.keys.adminToken "file" "admin-token") }}
{{- end }}
{{- if or (and $existing $s.keys.agentTokens) $s.agentTokens }}
{{- $files = append $files (dict "env" "REGISTRY_AGENT_TOKENS_FILE" "key" $s.keys.agentTokens "file" "agent-tokens") }}
{{- end }}
{{- if and $redis (or (and $existing $s.keys.redisPassword) $s.redisPassword) }}
{{- $files = append $files (dict "env" "REGISTRY_REDIS_PASSWORD_FILE" "key" $s.keys.redisPassword "file" "redis-password") }}
{{- end }}
{{- if and $sentinel (or (and $existing $s.keys.redisSentinelPassword) $s.redisSentinelPassword) }}
{{- $files = append $files (dict "env" "REGISTRY_REDIS_SENTINEL_PASSWORD_FILE" "key" $s.keys.redisSentinelPassword "file" "redis-sentinel-password") }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/* PromQL label matchers selecting this release's registry targets. */}}
{{- define "agent-registry.promSelector" -}}
job="{{ include "agent-registry.fullname" . }}", namespace="{{ .Release.Namespace }}"
{{- end }}
