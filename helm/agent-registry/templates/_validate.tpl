{{/*
Cross-field rules that values.schema.json cannot state clearly. Every message starts
with "agent-registry:" and names the values involved. Called from deployment.yaml,
which every release renders, so `helm template`, `helm install` and `helm upgrade`
all stop before anything is applied.
*/}}
{{- define "agent-registry.validate" -}}
{{- $v := .Values }}
{{- $s := $v.secrets }}
{{- $redis := include "agent-registry.redisEnabled" . }}

{{- /* Secrets come from one place. */}}
{{- if $s.existingSecret }}
{{- $inline := list }}
{{- range $k := list "adminToken" "redisPassword" "redisSentinelPassword" }}
{{- if get $s $k }}{{ $inline = append $inline (printf "secrets.%s" $k) }}{{ end }}
{{- end }}
{{- if $v.auth.tokens }}{{ $inline = append $inline "auth.tokens" }}{{ end }}
{{- if $inline }}
{{- fail (printf "agent-registry: secrets.existingSecret (%q) and inline %s are both set; keep credentials in one place: put them in the existing Secret (tokens in its %s key), or unset existingSecret" $s.existingSecret (join ", " $inline) (default "tokens.json" $s.keys.tokens)) }}
{{- end }}
{{- else }}
{{- range $k := list "adminToken" "tokens" "redisPassword" "redisSentinelPassword" }}
{{- if and (or (has $k (list "adminToken" "tokens")) (get $s $k)) (not (get $s.keys $k)) }}
{{- fail (printf "agent-registry: secrets.keys.%s is empty; the chart-made Secret needs a key name for it" $k) }}
{{- end }}
{{- end }}
{{- end }}

{{- /* Authentication. */}}
{{- $a := $v.auth }}
{{- if and (has $a.mode (list "mtls" "token+mtls")) (not $v.tls.existingSecret) (not $a.trustedProxies) }}
{{- fail (printf "agent-registry: auth.mode is %q but neither tls.existingSecret (the replica verifies client certificates) nor auth.trustedProxies (a TLS-terminating proxy) is set" $a.mode) }}
{{- end }}
{{- if and (has $a.mode (list "mtls" "token+mtls")) $v.tls.existingSecret (not $a.trustedProxies) (not $v.tls.clientCaKey) }}
{{- fail (printf "agent-registry: auth.mode is %q with tls.existingSecret but tls.clientCaKey is empty; the replica needs the client CA (ca.crt) to verify certificates" $a.mode) }}
{{- end }}
{{- if and (include "agent-registry.tokensOn" .) $s.existingSecret (not $s.keys.tokens) }}
{{- fail (printf "agent-registry: auth.mode is %q but secrets.keys.tokens is empty; the existing Secret must hold the token list (tokens.json)" $a.mode) }}
{{- end }}
{{- if and (has $a.mode (list "off" "token")) $a.mtlsAdmins }}
{{- fail (printf "agent-registry: auth.mtlsAdmins is set but auth.mode is %q; certificates prove nothing in this mode (use mtls or token+mtls)" $a.mode) }}
{{- end }}
{{- range $k := list "refuseEndpoints" "openEndpoints" }}
{{- $list := get $a $k }}
{{- if and (has "none" $list) (gt (len $list) 1) }}
{{- fail (printf "agent-registry: auth.%s: none cannot be combined with other entries (%s)" $k (join ", " $list)) }}
{{- end }}
{{- end }}
{{- range $i, $t := $a.tokens }}
{{- if has $t.subject (list "admin" "helm-test") }}
{{- fail (printf "agent-registry: auth.tokens[%d].subject %q is reserved for the chart's own tokens; pick another subject" $i $t.subject) }}
{{- end }}
{{- end }}

{{- /* Redis topology. */}}
{{- if and (eq $v.redis.mode "sentinel") (not $v.redis.sentinel.hosts) }}
{{- fail "agent-registry: redis.mode is \"sentinel\" but redis.sentinel.hosts is empty; list the sentinels as host:port" }}
{{- end }}
{{- if and (ne $v.redis.mode "sentinel") $v.redis.sentinel.hosts }}
{{- fail (printf "agent-registry: redis.sentinel.hosts is set but redis.mode is %q; set redis.mode=sentinel or drop the hosts" $v.redis.mode) }}
{{- end }}
{{- if and (eq $v.redis.mode "cluster") (not $v.redis.url) }}
{{- fail "agent-registry: redis.mode is \"cluster\" but redis.url is empty; give the URL of any cluster node (redis:// or rediss://)" }}
{{- end }}
{{- if regexMatch "^rediss?://[^/@]*:[^/@]*@" $v.redis.url }}
{{- fail "agent-registry: redis.url must not contain a password (it would land in the ConfigMap); put it in secrets.redisPassword or in secrets.existingSecret" }}
{{- end }}
{{- if and $s.redisPassword (not $redis) }}
{{- fail "agent-registry: secrets.redisPassword is set but no Redis is configured (redis.url is empty); set redis.url" }}
{{- end }}
{{- if and $s.redisSentinelPassword (ne $v.redis.mode "sentinel") }}
{{- fail (printf "agent-registry: secrets.redisSentinelPassword is set but redis.mode is %q, not \"sentinel\"" $v.redis.mode) }}
{{- end }}
{{- if and (not $redis) (include "agent-registry.multiReplica" .) }}
{{- fail "agent-registry: more than one replica can run (replicaCount > 1 or autoscaling) but redis.url is empty; the embedded store is single-replica only, so configure Redis" }}
{{- end }}

{{- /* Health thresholds: heartbeatInterval < degradedAfter < expireAfter <= retention. */}}
{{- $c := $v.config }}
{{- if not (lt (float64 $c.heartbeatInterval) (float64 $c.degradedAfter)) }}
{{- fail (printf "agent-registry: config.heartbeatInterval (%v) must be less than config.degradedAfter (%v)" $c.heartbeatInterval $c.degradedAfter) }}
{{- end }}
{{- if not (lt (float64 $c.degradedAfter) (float64 $c.expireAfter)) }}
{{- fail (printf "agent-registry: config.degradedAfter (%v) must be less than config.expireAfter (%v)" $c.degradedAfter $c.expireAfter) }}
{{- end }}
{{- if lt (float64 $c.retention) (float64 $c.expireAfter) }}
{{- fail (printf "agent-registry: config.retention (%v) must be at least config.expireAfter (%v)" $c.retention $c.expireAfter) }}
{{- end }}
{{- /* A claim must survive a missed refresh, or the fleet-active bundle would flap. */}}
{{- if le (float64 $c.configClaimTtl) (mulf 2 (float64 $c.configRefresh)) }}
{{- fail (printf "agent-registry: config.configClaimTtl (%v) must be more than twice config.configRefresh (%v)" $c.configClaimTtl $c.configRefresh) }}
{{- end }}
{{- if gt (int $c.pageSize) (int $c.maxPageSize) }}
{{- fail (printf "agent-registry: config.pageSize (%v) must not exceed config.maxPageSize (%v)" $c.pageSize $c.maxPageSize) }}
{{- end }}

{{- /* Non-secret config only, and nothing the chart already manages. */}}
{{- /* A name set twice would be a duplicate ConfigMap key, or an env entry silently winning. */}}
{{- $managed := list "REGISTRY_AUTH" "REGISTRY_TOKENS" "REGISTRY_TOKENS_FILE" "REGISTRY_ADMIN_TOKEN" "REGISTRY_ADMIN_TOKEN_FILE" "REGISTRY_AGENT_TOKENS" "REGISTRY_AGENT_TOKENS_FILE" "REGISTRY_TLS_CERT" "REGISTRY_TLS_KEY" "REGISTRY_TLS_CLIENT_CA" "REGISTRY_TRUSTED_PROXIES" "REGISTRY_CLIENT_CERT_HEADER" "REGISTRY_MTLS_ADMINS" "REGISTRY_REFUSE_ENDPOINTS" "REGISTRY_OPEN_ENDPOINTS" "REGISTRY_HOST" "REGISTRY_PORT" "REGISTRY_DEPLOY_REVISION" "REGISTRY_REDIS_URL" "REGISTRY_REDIS_MODE" "REGISTRY_REDIS_SENTINELS" "REGISTRY_REDIS_SENTINEL_MASTER" "REGISTRY_REDIS_TIMEOUT" "PROMETHEUS_MULTIPROC_DIR" }}
{{- $managed = concat $managed (list "REGISTRY_WORKERS" "REGISTRY_LOG_LEVEL" "REGISTRY_KEY_PREFIX" "REGISTRY_HEARTBEAT_INTERVAL" "REGISTRY_DEGRADED_AFTER" "REGISTRY_EXPIRE_AFTER" "REGISTRY_RETENTION" "REGISTRY_SWEEP_INTERVAL" "REGISTRY_KEEPALIVE_TIMEOUT" "REGISTRY_DRIFT_INTERVAL" "REGISTRY_DRIFT_AFTER_INTERVALS" "REGISTRY_CONFIG_REFRESH" "REGISTRY_CONFIG_CLAIM_TTL" "REGISTRY_MAX_BODY_BYTES" "REGISTRY_PAGE_SIZE" "REGISTRY_MAX_PAGE_SIZE" "REGISTRY_EVENTS_MAXLEN" "REGISTRY_BUNDLE_DIR") }}
{{- range $name, $_ := $c.extra }}
{{- if regexMatch "(?i)(TOKEN|PASSWORD|SECRET|CREDENTIAL|PRIVATE_KEY)" $name }}
{{- fail (printf "agent-registry: config.extra.%s looks like a secret; the ConfigMap must not hold secrets: use secrets.* or extraEnv with valueFrom.secretKeyRef" $name) }}
{{- end }}
{{- if or (has $name $managed) (hasPrefix "REGISTRY_REDIS_" $name) }}
{{- fail (printf "agent-registry: config.extra.%s is set by the chart; use the matching chart value instead" $name) }}
{{- end }}
{{- end }}
{{- range $e := $v.extraEnv }}
{{- if and (regexMatch "(?i)(TOKEN|PASSWORD|SECRET|CREDENTIAL|PRIVATE_KEY)" $e.name) (hasKey $e "value") }}
{{- fail (printf "agent-registry: extraEnv %s looks like a secret but has a plain value; use valueFrom.secretKeyRef (secrets must not sit in the pod spec)" $e.name) }}
{{- end }}
{{- if has $e.name $managed }}
{{- fail (printf "agent-registry: extraEnv %s is set by the chart; use the matching chart value instead" $e.name) }}
{{- end }}
{{- end }}

{{- /* Workload. */}}
{{- if le (int $v.terminationGracePeriodSeconds) (int $v.lifecycle.preStopDelaySeconds) }}
{{- fail (printf "agent-registry: terminationGracePeriodSeconds (%v) must be greater than lifecycle.preStopDelaySeconds (%v), or the pod is killed before it drains" $v.terminationGracePeriodSeconds $v.lifecycle.preStopDelaySeconds) }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- fail (printf "agent-registry: autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)" $v.autoscaling.minReplicas $v.autoscaling.maxReplicas) }}
{{- end }}
{{- $pdb := $v.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $hasMax := not (eq (toString $pdb.maxUnavailable) "") }}
{{- $hasMin := not (eq (toString $pdb.minAvailable) "") }}
{{- if eq $hasMax $hasMin }}
{{- fail "agent-registry: set exactly one of podDisruptionBudget.maxUnavailable and podDisruptionBudget.minAvailable (the other must be \"\")" }}
{{- end }}
{{- end }}
{{- end }}
