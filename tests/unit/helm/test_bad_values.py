"""Bad values fail at install/template time, each with a message that names the problem.

Single-field rules live in values.schema.json (Helm checks it before rendering);
cross-field rules that a schema cannot state clearly are `fail` calls in
templates/_validate.tpl. Each case below also pins down which of the two layers
catches it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import helm_python as helm
import pytest

REDIS = {"redis": {"url": "redis://redis:6379/0"}}
TOKEN = "t0ken-0123456789abcdef"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()

SCHEMA_CASES = [
    pytest.param(
        {"replicaCount": -1}, "at '/replicaCount': minimum: got -1, want 0", id="negative-replicas"
    ),
    pytest.param(
        {"replicaCount": "3"},
        "at '/replicaCount': got string, want integer",
        id="replicas-wrong-type",
    ),
    pytest.param(
        {"replicas": 3}, "additional properties 'replicas' not allowed", id="unknown-key-typo"
    ),
    pytest.param(
        {"image": {"tagg": "1"}}, "additional properties 'tagg' not allowed", id="nested-typo"
    ),
    pytest.param(
        {"redis": {"mode": "replicated"}},
        "at '/redis/mode': value must be one of 'standalone', 'sentinel', 'cluster'",
        id="bad-redis-mode",
    ),
    pytest.param(
        {"redis": {"url": "http://redis:6379"}},
        "at '/redis/url': 'http://redis:6379' does not match",
        id="bad-redis-scheme",
    ),
    pytest.param(
        {"redis": {"timeout": 0}}, "at '/redis/timeout': exclusiveMinimum", id="zero-redis-timeout"
    ),
    pytest.param(
        {"redis": {"mode": "sentinel", "sentinel": {"hosts": ["sentinel-without-port"]}}},
        "at '/redis/sentinel/hosts/0': 'sentinel-without-port' does not match",
        id="sentinel-host-without-port",
    ),
    pytest.param(
        {"secrets": {"adminToken": "short"}},
        "at '/secrets/adminToken'.*minLength: got 5, want 16",
        id="short-admin-token",
    ),
    pytest.param(
        {"secrets": {"agentTokens": [TOKEN]}},
        "at '/secrets': additional properties 'agentTokens' not allowed",
        id="agent-tokens-are-gone",
    ),
    pytest.param(
        {"auth": {"mode": "on"}},
        "at '/auth/mode': value must be one of 'off', 'token', 'mtls', 'token\\+mtls'",
        id="unknown-auth-mode",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": DIGEST.upper(), "scopes": ["agent"]}]}},
        "at '/auth/tokens/0/sha256': '[0-9A-F]{64}' does not match",
        id="uppercase-digest",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": TOKEN, "scopes": ["agent"]}]}},
        "at '/auth/tokens/0/sha256': .* does not match",
        id="plaintext-token-instead-of-digest",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": DIGEST, "scopes": []}]}},
        "at '/auth/tokens/0/scopes': minItems: got 0, want 1",
        id="token-without-scopes",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": DIGEST, "scopes": ["write"]}]}},
        "at '/auth/tokens/0/scopes/0': value must be one of 'agent', 'read', 'admin'",
        id="token-with-unknown-scope",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": DIGEST}]}},
        "at '/auth/tokens/0': missing property 'scopes'",
        id="token-missing-scopes",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "a", "sha256": DIGEST, "scopes": ["read"], "x": 1}]}},
        "at '/auth/tokens/0': additional properties 'x' not allowed",
        id="token-unknown-field",
    ),
    pytest.param(
        {"auth": {"trustedProxies": ["proxy.example.com"]}},
        "at '/auth/trustedProxies/0': 'proxy.example.com' does not match",
        id="proxy-not-an-address",
    ),
    pytest.param(
        {"auth": {"openEndpoints": ["admin"]}},
        "at '/auth/openEndpoints/0': value must be one of 'health', 'metrics', 'none'",
        id="admin-cannot-be-open",
    ),
    pytest.param(
        {"config": {"logLevel": "verbose"}},
        "at '/config/logLevel': value must be one of",
        id="bad-log-level",
    ),
    pytest.param(
        {"config": {"workers": 0}},
        "at '/config/workers': minimum: got 0, want 1",
        id="zero-workers",
    ),
    pytest.param(
        {"config": {"heartbeatInterval": -5}},
        "at '/config/heartbeatInterval': exclusiveMinimum",
        id="negative-interval",
    ),
    pytest.param(
        {"config": {"extra": {"lowercase": "x"}}},
        "invalid propertyName 'lowercase'",
        id="bad-extra-name",
    ),
    pytest.param(
        {"rollingUpdate": {"maxSurge": 0}}, "at '/rollingUpdate/maxSurge'", id="zero-surge"
    ),
    pytest.param(
        {"securityContext": {"privileged": True}},
        "at '/securityContext/privileged': value must be false",
        id="privileged",
    ),
    pytest.param(
        {"podSecurityContext": {"runAsNonRoot": False}},
        "at '/podSecurityContext/runAsNonRoot': value must be true",
        id="root",
    ),
    pytest.param({"image": {"digest": "sha256:abc"}}, "at '/image/digest'", id="bad-digest"),
    pytest.param(
        {"image": {"pullPolicy": "Sometimes"}},
        "at '/image/pullPolicy': value must be one of",
        id="bad-pull-policy",
    ),
    pytest.param(
        {"autoscaling": {"maxReplicas": 0}},
        "at '/autoscaling/maxReplicas': minimum: got 0, want 1",
        id="hpa-zero-max",
    ),
    pytest.param(
        {"podDisruptionBudget": {"maxUnavailable": "lots"}},
        "at '/podDisruptionBudget/maxUnavailable'",
        id="bad-pdb-value",
    ),
    pytest.param(
        {"service": {"port": 70000}}, "at '/service/port': maximum", id="bad-service-port"
    ),
    pytest.param(
        {"metrics": {"serviceMonitor": {"interval": "often"}}},
        "at '/metrics/serviceMonitor/interval'",
        id="bad-duration",
    ),
    pytest.param(
        {"metrics": {"prometheusRule": {"configDrift": {"threshold": 1.5}}}},
        "at '/metrics/prometheusRule/configDrift/threshold': maximum",
        id="drift-threshold-above-1",
    ),
    pytest.param(
        {"metrics": {"prometheusRule": {"configRollback": {"window": "a while"}}}},
        "at '/metrics/prometheusRule/configRollback/window'",
        id="rollback-window-not-a-duration",
    ),
    pytest.param(
        {"networkPolicy": {"egress": {"redisPorts": []}}},
        "at '/networkPolicy/egress/redisPorts': minItems",
        id="no-redis-ports",
    ),
]

TEMPLATE_CASES = [
    pytest.param(
        {**REDIS, "secrets": {"existingSecret": "vault-creds", "adminToken": TOKEN}},
        'secrets.existingSecret \\("vault-creds"\\) and inline secrets.adminToken are both set',
        id="existing-secret-and-inline-token",
    ),
    pytest.param(
        {**REDIS, "secrets": {"existingSecret": "vault-creds", "redisPassword": "pw"}},
        r'secrets.existingSecret \("vault-creds"\) and inline secrets.redisPassword are both set',
        id="existing-secret-and-inline-password",
    ),
    pytest.param(
        {"secrets": {"adminToken": TOKEN, "keys": {"adminToken": ""}}},
        "secrets.keys.adminToken is empty; the chart-made Secret needs a key name",
        id="inline-token-without-key-name",
    ),
    pytest.param(
        {"secrets": {"keys": {"tokens": ""}}},
        "secrets.keys.tokens is empty; the chart-made Secret needs a key name",
        id="no-tokens-key",
    ),
    pytest.param(
        {"auth": {"mode": "mtls"}},
        'auth.mode is "mtls" but neither tls.existingSecret .* nor auth.trustedProxies',
        id="mtls-without-tls-or-proxy",
    ),
    pytest.param(
        {"auth": {"mode": "token+mtls"}},
        'auth.mode is "token\\+mtls" but neither tls.existingSecret .* nor auth.trustedProxies',
        id="token-mtls-without-tls-or-proxy",
    ),
    pytest.param(
        {"auth": {"mode": "mtls"}, "tls": {"existingSecret": "tls", "clientCaKey": ""}},
        'auth.mode is "mtls" with tls.existingSecret but tls.clientCaKey is empty',
        id="mtls-without-client-ca",
    ),
    pytest.param(
        {"auth": {"mtlsAdmins": ["ops"]}},
        'auth.mtlsAdmins is set but auth.mode is "token"',
        id="mtls-admins-without-mtls",
    ),
    pytest.param(
        {"auth": {"tokens": [{"subject": "admin", "sha256": DIGEST, "scopes": ["read"]}]}},
        'auth.tokens\\[0\\].subject "admin" is reserved',
        id="reserved-subject",
    ),
    pytest.param(
        {
            **REDIS,
            "secrets": {"existingSecret": "vault-creds"},
            "auth": {"tokens": [{"subject": "a", "sha256": DIGEST, "scopes": ["read"]}]},
        },
        'secrets.existingSecret \\("vault-creds"\\) and inline auth.tokens are both set',
        id="existing-secret-and-inline-tokens",
    ),
    pytest.param(
        {**REDIS, "secrets": {"existingSecret": "vault-creds", "keys": {"tokens": ""}}},
        'auth.mode is "token" but secrets.keys.tokens is empty',
        id="existing-secret-without-tokens-key",
    ),
    pytest.param(
        {"auth": {"refuseEndpoints": ["none", "private"]}},
        "auth.refuseEndpoints: none cannot be combined",
        id="refuse-none-and-more",
    ),
    pytest.param(
        {"config": {"extra": {"REGISTRY_AUTH": "off"}}},
        "config.extra.REGISTRY_AUTH is set by the chart",
        id="auth-mode-through-extra",
    ),
    pytest.param(
        {"redis": {"mode": "sentinel"}},
        'redis.mode is "sentinel" but redis.sentinel.hosts is empty',
        id="sentinel-without-hosts",
    ),
    pytest.param(
        {**REDIS, "redis": {"url": "redis://r:6379", "sentinel": {"hosts": ["s:26379"]}}},
        'redis.sentinel.hosts is set but redis.mode is "standalone"',
        id="sentinel-hosts-in-standalone",
    ),
    pytest.param(
        {"redis": {"mode": "cluster"}},
        'redis.mode is "cluster" but redis.url is empty',
        id="cluster-without-url",
    ),
    pytest.param(
        {"redis": {"url": "redis://:hunter2hunter2@redis:6379/0"}},
        "redis.url must not contain a password",
        id="password-in-url",
    ),
    pytest.param(
        {"redis": {"url": "rediss://admin:hunter2@redis:6379"}},
        "redis.url must not contain a password",
        id="user-and-password-in-url",
    ),
    pytest.param(
        {"secrets": {"redisPassword": "pw"}},
        "secrets.redisPassword is set but no Redis is configured",
        id="redis-password-without-redis",
    ),
    pytest.param(
        {**REDIS, "secrets": {"redisSentinelPassword": "pw"}},
        'secrets.redisSentinelPassword is set but redis.mode is "standalone"',
        id="sentinel-password-without-sentinel",
    ),
    pytest.param(
        {"replicaCount": 3},
        "more than one replica can run .* the embedded store is single-replica only",
        id="replicas-without-redis",
    ),
    pytest.param(
        {"autoscaling": {"enabled": True}},
        "more than one replica can run .* the embedded store is single-replica only",
        id="hpa-without-redis",
    ),
    pytest.param(
        {"config": {"heartbeatInterval": 10, "degradedAfter": 10}},
        r"config.heartbeatInterval \(10\) must be less than config.degradedAfter \(10\)",
        id="interval-not-below-degraded",
    ),
    pytest.param(
        {"config": {"degradedAfter": 30}},
        r"config.degradedAfter \(30\) must be less than config.expireAfter \(20\)",
        id="degraded-after-expiry",
    ),
    pytest.param(
        {"config": {"retention": 10}},
        r"config.retention \(10\) must be at least config.expireAfter \(20\)",
        id="retention-below-expiry",
    ),
    pytest.param(
        {"config": {"configRefresh": 2, "configClaimTtl": 4}},
        r"config.configClaimTtl \(4\) must be more than twice config.configRefresh \(2\)",
        id="claim-ttl-not-above-twice-refresh",
    ),
    pytest.param(
        {"config": {"extra": {"REGISTRY_CONFIG_CLAIM_TTL": "9"}}},
        "config.extra.REGISTRY_CONFIG_CLAIM_TTL is set by the chart",
        id="extra-duplicates-claim-ttl",
    ),
    pytest.param(
        {"config": {"pageSize": 2000}},
        r"config.pageSize \(2000\) must not exceed config.maxPageSize \(1000\)",
        id="page-size-above-max",
    ),
    pytest.param(
        {"config": {"extra": {"REGISTRY_ADMIN_TOKEN": TOKEN}}},
        "config.extra.REGISTRY_ADMIN_TOKEN looks like a secret",
        id="secret-in-configmap",
    ),
    pytest.param(
        {"config": {"extra": {"REGISTRY_REDIS_URL": "redis://x"}}},
        "config.extra.REGISTRY_REDIS_URL is set by the chart",
        id="extra-overrides-chart-setting",
    ),
    pytest.param(
        {"config": {"extra": {"REGISTRY_KEEPALIVE_TIMEOUT": "30"}}},
        "config.extra.REGISTRY_KEEPALIVE_TIMEOUT is set by the chart",
        id="extra-duplicates-config-value",
    ),
    pytest.param(
        {"extraEnv": [{"name": "REGISTRY_REDIS_PASSWORD", "value": "pw"}]},
        "extraEnv REGISTRY_REDIS_PASSWORD looks like a secret but has a plain value",
        id="plain-secret-env",
    ),
    pytest.param(
        {"extraEnv": [{"name": "REGISTRY_DEPLOY_REVISION", "value": "99"}]},
        "extraEnv REGISTRY_DEPLOY_REVISION is set by the chart",
        id="revision-override",
    ),
    pytest.param(
        {"terminationGracePeriodSeconds": 10, "lifecycle": {"preStopDelaySeconds": 10}},
        r"terminationGracePeriodSeconds \(10\) must be greater than lifecycle.preStopDelaySeconds",
        id="grace-shorter-than-prestop",
    ),
    pytest.param(
        {**REDIS, "autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}},
        r"autoscaling.minReplicas \(5\) must not exceed autoscaling.maxReplicas \(3\)",
        id="hpa-min-above-max",
    ),
    pytest.param(
        {**REDIS, "podDisruptionBudget": {"maxUnavailable": 1, "minAvailable": 1}},
        "set exactly one of podDisruptionBudget.maxUnavailable and",
        id="pdb-both-set",
    ),
    pytest.param(
        {**REDIS, "podDisruptionBudget": {"maxUnavailable": "", "minAvailable": ""}},
        "set exactly one of podDisruptionBudget.maxUnavailable and",
        id="pdb-neither-set",
    ),
]


@pytest.mark.parametrize(("values", "message"), SCHEMA_CASES)
def test_schema_rejects(chart: helm.Chart, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.validate_schema(values)
    # `helm install` / `helm template` run the same check before rendering.
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.render(values=values, name="reg", namespace="agents")


@pytest.mark.parametrize(("values", "message"), TEMPLATE_CASES)
def test_template_rules_reject(chart: helm.Chart, values: dict[str, Any], message: str) -> None:
    # Valid for the schema alone: the rule spans several fields.
    chart.validate_schema(values)
    with pytest.raises(helm.HelmRenderError, match="agent-registry: " + message):
        chart.render(values=values, name="reg", namespace="agents")


def test_lint_reports_schema_errors(k8s: Any) -> None:
    # Helm's lint runs the schema; it only logs template `fail` calls (lint mode), which
    # is why the template rules above are checked by rendering, as `helm template` does.
    report = helm.lint(k8s.CHART_DIR, {"replicaCount": -1})
    errors = [m["error"] for m in report["messages"] if m["severity"] == 3]
    assert any("at '/replicaCount': minimum: got -1, want 0" in e for e in errors)
