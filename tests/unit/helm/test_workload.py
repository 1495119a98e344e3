"""What matters in the rendered workload: probes, hardening, rollout safety, config and
secret wiring, the deploy revision, and when the PDB / HPA exist."""

from __future__ import annotations

import base64
import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

REDIS = {"redis": {"url": "redis://redis:6379/0"}}


def pod_spec(k8s: SimpleNamespace, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return k8s.find(manifests, "Deployment")["spec"]["template"]["spec"]


def pod_annotations(k8s: SimpleNamespace, manifests: list[dict[str, Any]]) -> dict[str, str]:
    return k8s.find(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]


# --- probes and ports ---------------------------------------------------------------


def test_probes_and_port(render: Any, values: dict[str, Any], k8s: SimpleNamespace) -> None:
    registry = k8s.container(render(values))
    assert registry["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    probes = {
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
        "startupProbe": "/health/live",
    }
    https = {"scheme": "HTTPS"} if values.get("tls", {}).get("existingSecret") else {}
    for probe, path in probes.items():
        assert registry[probe]["httpGet"] == {"path": path, "port": "http", **https}, probe
    # The startup budget gives a slow start (bundle hash check, publish) a minute.
    startup = registry["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


# --- security -----------------------------------------------------------------------


def test_security_context(render: Any, values: dict[str, Any], k8s: SimpleNamespace) -> None:
    manifests = render(values)
    pod = pod_spec(k8s, manifests)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}

    sc = k8s.container(manifests)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}

    sa = k8s.find(manifests, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == sa["metadata"]["name"]


def test_writable_paths_are_empty_dirs(
    render: Any, values: dict[str, Any], k8s: SimpleNamespace
) -> None:
    manifests = render(values)
    volumes = {v["name"]: v for v in pod_spec(k8s, manifests)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in k8s.container(manifests)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/tmp/prometheus"]]
    assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"]
    # Every other mount is read-only (secrets, extra config).
    for mount in k8s.container(manifests)["volumeMounts"]:
        if mount["mountPath"] not in {"/tmp", "/tmp/prometheus"}:
            assert mount.get("readOnly") is True, mount


def test_multiproc_dir_is_set_only_with_several_workers(render: Any, k8s: SimpleNamespace) -> None:
    assert "PROMETHEUS_MULTIPROC_DIR" not in k8s.env_map(render({}))
    env = k8s.env_map(render({"config": {"workers": 3}}))
    assert env["REGISTRY_WORKERS"] == "3"
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus"


# --- rollout and scheduling -----------------------------------------------------------


def test_rollout_and_graceful_shutdown(
    render: Any, values: dict[str, Any], k8s: SimpleNamespace
) -> None:
    manifests = render(values)
    deploy = k8s.find(manifests, "Deployment")
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    pod = pod_spec(k8s, manifests)
    command = k8s.container(manifests)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    delay = float(command[2].removeprefix("import time; time.sleep(").removesuffix(")"))
    assert delay > 0
    assert pod["terminationGracePeriodSeconds"] > delay


def test_prestop_sleep_is_valid_python(render: Any) -> None:
    manifests = render({"lifecycle": {"preStopDelaySeconds": 7}})
    deploy = next(m for m in manifests if m["kind"] == "Deployment")
    command = deploy["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]
    source = command["exec"]["command"][2]
    compile(source, "<preStop>", "exec")  # a syntax error would fail here
    assert source == "import time; time.sleep(7)"


def test_prestop_can_be_disabled(render: Any, k8s: SimpleNamespace) -> None:
    assert "lifecycle" not in k8s.container(render({"lifecycle": {"preStopDelaySeconds": 0}}))


def test_spread_and_anti_affinity(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("ha-prod"))
    pod = pod_spec(k8s, manifests)
    selector = k8s.find(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"] == selector
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]
    (soft,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert soft["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert soft["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector


def test_custom_affinity_replaces_the_default(render: Any, k8s: SimpleNamespace) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["reg"]}]}
                ]
            }
        }
    }
    assert pod_spec(k8s, render({"affinity": affinity}))["affinity"] == affinity


def test_service_targets_the_http_port(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render({})
    service = k8s.find(manifests, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = k8s.find(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for key, value in service["spec"]["selector"].items():
        assert labels[key] == value


def test_traffic_distribution_needs_kubernetes_1_31(render: Any, k8s: SimpleNamespace) -> None:
    # The SDK renders with Helm's default capabilities (a current Kubernetes).
    service = k8s.find(render({"service": {"trafficDistribution": "PreferClose"}}), "Service")
    assert service["spec"]["trafficDistribution"] == "PreferClose"
    assert "trafficDistribution" not in k8s.find(render({}), "Service")["spec"]


# --- replicas, HPA and PDB --------------------------------------------------------------

PDB_CASES = [
    pytest.param({"replicaCount": 1}, False, id="one-replica"),
    pytest.param({"replicaCount": 0}, False, id="scaled-to-zero"),
    pytest.param({**REDIS, "replicaCount": 2}, True, id="two-replicas"),
    pytest.param(
        {**REDIS, "replicaCount": 3, "podDisruptionBudget": {"enabled": False}},
        False,
        id="disabled",
    ),
    pytest.param(
        {**REDIS, "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 1}},
        False,
        id="hpa-max-1",
    ),
    pytest.param(
        {**REDIS, "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}},
        True,
        id="hpa-max-3",
    ),
    pytest.param(
        {**REDIS, "replicaCount": 1, "autoscaling": {"enabled": True, "maxReplicas": 4}},
        True,
        id="hpa-overrides-replicaCount",
    ),
]


@pytest.mark.parametrize(("values", "expected"), PDB_CASES)
def test_pdb_exactly_when_more_than_one_replica_can_run(
    render: Any, k8s: SimpleNamespace, values: dict[str, Any], expected: bool
) -> None:
    manifests = render(values)
    pdbs = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    assert len(pdbs) == int(expected)
    if expected:
        selector = k8s.find(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
        assert pdbs[0]["spec"]["selector"]["matchLabels"] == selector
        assert pdbs[0]["spec"]["maxUnavailable"] == 1


def test_pdb_min_available(render: Any, k8s: SimpleNamespace) -> None:
    pdb = k8s.find(render(k8s.load_values("ha-prod")), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in pdb["spec"]


def test_hpa_owns_replicas(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("ha-prod"))
    deploy = k8s.find(manifests, "Deployment")
    assert "replicas" not in deploy["spec"]
    hpa = k8s.find(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deploy["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "registry_heartbeats_per_second"
    assert metrics["Pods"]["pods"]["target"] == {"type": "AverageValue", "averageValue": "800"}


def test_replicas_without_hpa(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render({**REDIS, "replicaCount": 5})
    assert k8s.find(manifests, "Deployment")["spec"]["replicas"] == 5
    assert "HorizontalPodAutoscaler" not in k8s.kinds(manifests)


# --- config, checksums and revision -------------------------------------------------------


def test_configmap_carries_the_settings(render: Any, k8s: SimpleNamespace) -> None:
    env = k8s.env_map(render(k8s.load_values("everything-on")))
    assert env["REGISTRY_HOST"] == "::"
    assert env["REGISTRY_PORT"] == "8000"
    assert env["REGISTRY_LOG_LEVEL"] == "warning"
    assert env["REGISTRY_KEY_PREFIX"] == "reg-prod"
    assert env["REGISTRY_HEARTBEAT_INTERVAL"] == "2.5"
    assert env["REGISTRY_DEGRADED_AFTER"] == "7.5"
    assert env["REGISTRY_EXPIRE_AFTER"] == "15"
    assert env["REGISTRY_RETENTION"] == "600"
    assert env["REGISTRY_SWEEP_INTERVAL"] == "0.5"
    assert env["REGISTRY_KEEPALIVE_TIMEOUT"] == "120"
    assert env["REGISTRY_DRIFT_INTERVAL"] == "30"
    assert env["REGISTRY_DRIFT_AFTER_INTERVALS"] == "4"
    assert env["REGISTRY_CONFIG_REFRESH"] == "0.5"
    assert env["REGISTRY_CONFIG_CLAIM_TTL"] == "3"
    # Large integers must not turn into floats like 2.097152e+06.
    assert env["REGISTRY_MAX_BODY_BYTES"] == "2097152"
    assert env["REGISTRY_EVENTS_MAXLEN"] == "50000"
    assert env["REGISTRY_PAGE_SIZE"] == "50"
    assert env["REGISTRY_MAX_PAGE_SIZE"] == "500"
    assert env["REGISTRY_BUNDLE_DIR"] == "/app/bundle"
    assert env["REGISTRY_FEATURE_X"] == "on"
    assert env["REGISTRY_REDIS_URL"] == "rediss://default@redis.redis.svc:6380/1"


def test_defaults_use_the_embedded_store(render: Any, k8s: SimpleNamespace) -> None:
    env = k8s.env_map(render({}))
    assert not any(name.startswith("REGISTRY_REDIS_") for name in env)
    assert env["REGISTRY_HOST"] == "0.0.0.0"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (
            "sentinel",
            {
                "REGISTRY_REDIS_MODE": "sentinel",
                "REGISTRY_REDIS_URL": "redis://registry-master/0",
                "REGISTRY_REDIS_SENTINEL_MASTER": "registry-master",
                "REGISTRY_REDIS_SENTINELS": "sentinel-0.sentinel.redis.svc:26379,"
                "sentinel-1.sentinel.redis.svc:26379,[fd00::12]:26379",
            },
        ),
        (
            "cluster",
            {
                "REGISTRY_REDIS_MODE": "cluster",
                "REGISTRY_REDIS_URL": "rediss://redis-cluster.redis.svc.cluster.local:6379",
            },
        ),
        (
            "ha-prod",
            {
                "REGISTRY_REDIS_MODE": "standalone",
                "REGISTRY_REDIS_URL": "rediss://redis.redis.svc.cluster.local:6380/0",
                "REGISTRY_REDIS_TIMEOUT": "0.5",
            },
        ),
    ],
)
def test_redis_modes(
    render: Any, k8s: SimpleNamespace, scenario: str, expected: dict[str, str]
) -> None:
    env = k8s.env_map(render(k8s.load_values(scenario)))
    for name, value in expected.items():
        assert env[name] == value, name
    if scenario != "sentinel":
        assert "REGISTRY_REDIS_SENTINELS" not in env


def test_checksum_rolls_pods_on_config_change(render: Any, k8s: SimpleNamespace) -> None:
    base = k8s.load_values("ha-prod")
    before = pod_annotations(k8s, render(base))
    after_config = pod_annotations(
        k8s, render(k8s.deep_merge(base, {"config": {"retention": 900}}))
    )
    assert after_config["checksum/config"] != before["checksum/config"]
    assert after_config["checksum/secret"] == before["checksum/secret"]

    rotated = k8s.deep_merge(base, {"secrets": {"redisPassword": "rotated-password-value"}})
    after_secret = pod_annotations(k8s, render(rotated))
    assert after_secret["checksum/secret"] != before["checksum/secret"]
    assert after_secret["checksum/config"] == before["checksum/config"]

    # Changes outside the ConfigMap and Secret leave both sums alone.
    scaled = pod_annotations(k8s, render(k8s.deep_merge(base, {"replicaCount": 9})))
    assert scaled["checksum/config"] == before["checksum/config"]
    assert scaled["checksum/secret"] == before["checksum/secret"]


def test_checksum_matches_the_rendered_configmap(render_raw: Any, k8s: SimpleNamespace) -> None:
    raw = render_raw({})
    configmap = raw["agent-registry/templates/configmap.yaml"]
    deployment = yaml.safe_load(raw["agent-registry/templates/deployment.yaml"])
    annotation = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert annotation == hashlib.sha256(configmap.encode()).hexdigest()


@pytest.mark.parametrize("revision", [1, 2, 17])
def test_deploy_revision_is_the_release_revision(
    render: Any, k8s: SimpleNamespace, revision: int
) -> None:
    manifests = render({}, revision=revision)
    env = {e["name"]: e for e in k8s.container(manifests)["env"]}
    assert env["REGISTRY_DEPLOY_REVISION"] == {
        "name": "REGISTRY_DEPLOY_REVISION",
        "value": str(revision),
    }
    # Not in the ConfigMap: each revision must reach the pod template itself.
    assert "REGISTRY_DEPLOY_REVISION" not in k8s.find(manifests, "ConfigMap")["data"]


def test_image_tag_carries_the_config_version(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("ha-prod"))
    deploy = k8s.find(manifests, "Deployment")
    assert (
        k8s.container(manifests)["image"] == "ghcr.io/example/agent-registry:0.1.0-cfg-0123456789ab"
    )
    assert deploy["metadata"]["labels"]["agent-registry/config-version"] == "0123456789ab"
    assert deploy["spec"]["template"]["metadata"]["labels"]["agent-registry/config-version"] == (
        "0123456789ab"
    )


def test_image_defaults_to_app_version(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render({})
    assert k8s.container(manifests)["image"] == "ghcr.io/example/agent-registry:0.1.0"
    assert (
        "agent-registry/config-version"
        not in k8s.find(manifests, "Deployment")["metadata"]["labels"]
    )


def test_image_digest_pins(render: Any, k8s: SimpleNamespace) -> None:
    image = k8s.container(render(k8s.load_values("everything-on")))["image"]
    assert image == (
        "registry.example.com/agent-registry:0.1.0-cfg-abcdef012345@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )


def test_notes_explain_config_rollback_and_drift(render_raw: Any) -> None:
    rendered = render_raw({"redis": {"url": "redis://r:6379"}}, revision=4)
    notes = rendered["agent-registry/templates/NOTES.txt"]
    assert "revision 4" in notes
    assert "/config/active" in notes
    assert "jsonpath='{.metadata.labels.agent-registry/config-version}" in notes
    assert "helm -n agents rollback reg <REVISION>" in notes
    assert "/drift" in notes
    assert "WARNING" not in notes
    assert "embedded" in render_raw({})["agent-registry/templates/NOTES.txt"]


# --- secrets ------------------------------------------------------------------------------


def _secret_forms(secret: str) -> set[str]:
    return {secret, base64.b64encode(secret.encode()).decode()}


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _test_pod_env(k8s: SimpleNamespace, manifests: list[dict[str, Any]]) -> dict[str, str]:
    (check,) = k8s.find(manifests, "Pod")["spec"]["containers"]
    return {e["name"]: e["value"] for e in check["env"]}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_secrets_only_in_secret_objects(
    render_raw: Any, values: dict[str, Any], k8s: SimpleNamespace
) -> None:
    inline = values.get("secrets", {})
    present = [inline.get("adminToken"), inline.get("redisPassword")]
    present += [inline.get("redisSentinelPassword")]
    secrets = [s for s in present if s]
    secrets += [_digest(s) for s in k8s.SECRET_STRINGS]
    rendered = render_raw(values)
    docs = []
    for path, text in rendered.items():
        for doc in yaml.safe_load_all(text) if not path.endswith("NOTES.txt") else [text]:
            if doc:
                docs.append((path, doc))
    secret_docs = [d for _, d in docs if isinstance(d, dict) and d.get("kind") == "Secret"]
    # Whatever the chart put in its Secret (a generated admin token too), and the digests
    # of the tokens, must appear nowhere else: no ConfigMap, env value or command line.
    for secret in secret_docs:
        for key, value in _decoded(secret).items():
            secrets.append(value)
            if key == "tokens.json":
                secrets += [entry["sha256"] for entry in json.loads(value)]
            else:
                secrets.append(_digest(value))
    forms = set().union(*(_secret_forms(s) for s in secrets + list(k8s.SECRET_STRINGS)))
    for path, doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            continue
        dumped = doc if isinstance(doc, str) else json.dumps(doc)
        for form in forms:
            assert form not in dumped, f"a secret leaked into {path}"
    # Secure by default: the chart makes its Secret unless an existing one is named.
    assert len(secret_docs) == (0 if inline.get("existingSecret") else 1)


def test_defaults_turn_auth_on_with_a_generated_admin_token(
    render: Any, k8s: SimpleNamespace
) -> None:
    manifests = render({})
    assert k8s.find(manifests, "ConfigMap")["data"]["REGISTRY_AUTH"] == "token"
    secret = k8s.find(manifests, "Secret")
    assert secret["metadata"]["name"] == f"{k8s.FULLNAME}-secrets"
    data = _decoded(secret)
    admin = data["admin-token"]
    assert len(admin) >= 32 and admin.isalnum()
    tokens = json.loads(data["tokens.json"])
    assert tokens[0] == {"subject": "admin", "sha256": _digest(admin), "scopes": ["admin"]}
    # The helm test pod's token: agent scope, for its own agent ids only.
    assert tokens[1] == {
        "subject": "helm-test",
        "sha256": _digest(data["test-token"]),
        "scopes": ["agent"],
        "agents": ["helm-test-*"],
    }
    assert len(tokens) == 2
    # Only tokens.json reaches the registry pod; the plaintext tokens are never mounted.
    volume = next(v for v in pod_spec(k8s, manifests)["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["items"] == [{"key": "tokens.json", "path": "tokens.json"}]
    env = {e["name"]: e.get("value") for e in k8s.container(manifests)["env"]}
    assert env["REGISTRY_TOKENS_FILE"] == "/var/run/secrets/agent-registry/tokens.json"
    assert "REGISTRY_ADMIN_TOKEN_FILE" not in env
    assert "REGISTRY_AGENT_TOKENS_FILE" not in k8s.env_map(manifests)
    # A second render makes another token: `helm template` has no cluster to look it up in
    # (`helm upgrade` reads the release's Secret back and keeps it).
    again = _decoded(k8s.find(render({}), "Secret"))["admin-token"]
    assert again != admin


def test_inline_admin_token_is_hashed_with_the_extra_tokens(
    render: Any, k8s: SimpleNamespace
) -> None:
    values = k8s.load_values("ha-prod")
    data = _decoded(k8s.find(render(values), "Secret"))
    assert data["admin-token"] == "admin-token-0123456789abcdef"
    tokens = json.loads(data["tokens.json"])
    assert tokens[0]["sha256"] == _digest("admin-token-0123456789abcdef")
    assert tokens[2:] == values["auth"]["tokens"]
    # Two tokens of one subject (rotation), by digest only.
    assert [t["subject"] for t in tokens[2:]] == ["fleet", "fleet"]
    assert "agent-token-alpha-0123456789" not in data["tokens.json"]
    # Deterministic with an inline admin token: the test token is derived from it.
    assert _decoded(k8s.find(render(values), "Secret")) == data


def test_inline_secrets_are_mounted_as_files(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("sentinel"))
    secret = k8s.find(manifests, "Secret")
    decoded = _decoded(secret)
    assert decoded["redis-password"] == "redis-password-s3cr3t-value"
    assert decoded["redis-sentinel-password"] == "sentinel-password-s3cr3t-value"
    assert set(decoded) == {
        "admin-token",
        "tokens.json",
        "test-token",
        "redis-password",
        "redis-sentinel-password",
    }
    env = {e["name"]: e for e in k8s.container(manifests)["env"]}
    assert env["REGISTRY_REDIS_PASSWORD_FILE"]["value"] == (
        "/var/run/secrets/agent-registry/redis-password"
    )
    assert env["REGISTRY_REDIS_SENTINEL_PASSWORD_FILE"]["value"] == (
        "/var/run/secrets/agent-registry/redis-sentinel-password"
    )
    # No plain secret variables, and no secretKeyRef either: files only.
    assert "REGISTRY_REDIS_PASSWORD" not in env
    assert not any("valueFrom" in e for e in env.values())
    assert "REGISTRY_ADMIN_TOKEN_FILE" not in env
    volumes = {v["name"]: v for v in pod_spec(k8s, manifests)["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert volumes["secrets"]["secret"]["defaultMode"] == 0o440
    assert {i["key"] for i in volumes["secrets"]["secret"]["items"]} == {
        "tokens.json",
        "redis-password",
        "redis-sentinel-password",
    }


def test_existing_secret(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("existing-secret"))
    assert "Secret" not in k8s.kinds(manifests)
    assert k8s.find(manifests, "ConfigMap")["data"]["REGISTRY_AUTH"] == "token"
    volume = next(v for v in pod_spec(k8s, manifests)["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == "registry-creds-from-vault"
    # Only the keys the registry reads: its token list and the Redis password.
    assert volume["secret"]["items"] == [
        {"key": "TOKENS_JSON", "path": "tokens.json"},
        {"key": "REDIS_PASSWORD", "path": "redis-password"},
    ]
    env = {e["name"]: e["value"] for e in k8s.container(manifests)["env"]}
    assert env["REGISTRY_TOKENS_FILE"] == "/etc/agent-registry/secrets/tokens.json"
    assert env["REGISTRY_REDIS_PASSWORD_FILE"] == "/etc/agent-registry/secrets/redis-password"
    assert "REGISTRY_ADMIN_TOKEN_FILE" not in env
    assert "REGISTRY_AGENT_TOKENS_FILE" not in env
    # An externally managed Secret cannot be hashed at render time.
    assert "checksum/secret" not in pod_annotations(k8s, manifests)
    # No test token in that Secret (keys.testToken ""): `helm test` checks readiness only.
    test_env = _test_pod_env(k8s, manifests)
    assert test_env.get("READY_ONLY") == "1"
    assert "TOKEN_FILE" not in test_env


def test_existing_secret_with_a_test_token(render: Any, k8s: SimpleNamespace) -> None:
    values = k8s.deep_merge(
        k8s.load_values("existing-secret"), {"secrets": {"keys": {"testToken": "HELM_TEST"}}}
    )
    pod = k8s.find(render(values), "Pod")["spec"]
    (volume,) = pod["volumes"]
    assert volume["secret"] == {
        "secretName": "registry-creds-from-vault",
        "defaultMode": 0o440,
        "items": [{"key": "HELM_TEST", "path": "token"}],
    }


def test_mtls_with_a_tls_secret(render: Any, k8s: SimpleNamespace) -> None:
    values = {**REDIS, "auth": {"mode": "mtls"}, "tls": {"existingSecret": "serving-tls"}}
    manifests = render(values)
    config = k8s.find(manifests, "ConfigMap")["data"]
    assert config["REGISTRY_AUTH"] == "mtls"
    assert config["REGISTRY_TLS_CERT"] == "/var/run/tls/agent-registry/tls.crt"
    assert config["REGISTRY_TLS_KEY"] == "/var/run/tls/agent-registry/tls.key"
    assert config["REGISTRY_TLS_CLIENT_CA"] == "/var/run/tls/agent-registry/ca.crt"
    volumes = {v["name"]: v for v in pod_spec(k8s, manifests)["volumes"]}
    assert volumes["tls"]["secret"] == {
        "secretName": "serving-tls",
        "defaultMode": 0o440,
        "items": [
            {"key": "tls.crt", "path": "tls.crt"},
            {"key": "tls.key", "path": "tls.key"},
            {"key": "ca.crt", "path": "ca.crt"},
        ],
    }
    registry = k8s.container(manifests)
    mounts = {m["name"]: m for m in registry["volumeMounts"]}
    assert mounts["tls"] == {
        "name": "tls",
        "mountPath": "/var/run/tls/agent-registry",
        "readOnly": True,
    }
    # mtls alone demands a client certificate the kubelet cannot show: TCP probes.
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert registry[probe]["tcpSocket"] == {"port": "http"}, probe
    # No agent token in mtls mode (no test-token key); the test pod only connects.
    assert "test-token" not in _decoded(k8s.find(manifests, "Secret"))
    test_env = _test_pod_env(k8s, manifests)
    assert test_env["TCP_ONLY"] == "1"
    assert test_env["REGISTRY_URL"].startswith("https://")


def test_token_and_mtls_probes_and_test_pod_use_https(render: Any, k8s: SimpleNamespace) -> None:
    values = {
        **REDIS,
        "auth": {"mode": "token+mtls", "mtlsAdmins": ["spiffe://example.org/ops"]},
        "tls": {"existingSecret": "serving-tls"},
    }
    manifests = render(values)
    config = k8s.find(manifests, "ConfigMap")["data"]
    assert config["REGISTRY_AUTH"] == "token+mtls"
    assert config["REGISTRY_MTLS_ADMINS"] == "spiffe://example.org/ops"
    registry = k8s.container(manifests)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert registry[probe]["httpGet"]["scheme"] == "HTTPS", probe
    pod = k8s.find(manifests, "Pod")["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["REGISTRY_URL"].startswith("https://reg-agent-registry.agents.svc:")
    assert env["TOKEN_FILE"] == "/var/run/secrets/helm-test/token"
    assert env["CA_FILE"] == "/var/run/tls/helm-test/ca.crt"
    assert {v["name"] for v in pod["volumes"]} == {"token", "tls-ca"}


def test_mtls_behind_a_proxy_needs_no_tls_secret(render: Any, k8s: SimpleNamespace) -> None:
    values = {**REDIS, "auth": {"mode": "mtls", "trustedProxies": ["10.0.0.0/8", "fd00::/8"]}}
    manifests = render(values)
    config = k8s.find(manifests, "ConfigMap")["data"]
    assert config["REGISTRY_TRUSTED_PROXIES"] == "10.0.0.0/8,fd00::/8"
    assert not any(k.startswith("REGISTRY_TLS_") for k in config)
    registry = k8s.container(manifests)
    assert registry["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}


def test_auth_off_only_when_spelled_out(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render({**REDIS, "auth": {"mode": "off"}})
    assert k8s.find(manifests, "ConfigMap")["data"]["REGISTRY_AUTH"] == "off"
    env = _test_pod_env(k8s, manifests)
    assert "TOKEN_FILE" not in env and "READY_ONLY" not in env


def test_optional_auth_settings_reach_the_configmap(render: Any, k8s: SimpleNamespace) -> None:
    config = k8s.find(render(k8s.load_values("everything-on")), "ConfigMap")["data"]
    assert config["REGISTRY_REFUSE_ENDPOINTS"] == "link-local,metadata,loopback"
    assert config["REGISTRY_OPEN_ENDPOINTS"] == "health"
    assert config["REGISTRY_CLIENT_CERT_HEADER"] == "X-Client-Cert"
    defaults = k8s.find(render({}), "ConfigMap")["data"]
    for name in ("REFUSE_ENDPOINTS", "OPEN_ENDPOINTS", "TRUSTED_PROXIES", "MTLS_ADMINS"):
        assert f"REGISTRY_{name}" not in defaults


# --- network policy --------------------------------------------------------------------------


def test_network_policy(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render(k8s.load_values("sentinel"))
    policy = k8s.find(manifests, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert (
        policy["podSelector"]["matchLabels"]
        == (k8s.find(manifests, "Deployment")["spec"]["selector"]["matchLabels"])
    )
    (ingress,) = policy["ingress"]
    selectors = [p["namespaceSelector"] for p in ingress["from"] if "namespaceSelector" in p]
    assert {"matchLabels": {"agent-registry/access": "true"}} in selectors
    assert {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}} in selectors
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    egress_ports = {
        (p["port"], p["protocol"]) for rule in policy["egress"] for p in rule.get("ports", [])
    }
    assert {(6379, "TCP"), (26379, "TCP"), (53, "UDP"), (53, "TCP")} <= egress_ports


def test_network_policy_without_sentinel_has_no_sentinel_port(
    render: Any, k8s: SimpleNamespace
) -> None:
    policy = k8s.find(render(k8s.load_values("cluster")), "NetworkPolicy")["spec"]
    ports = {p["port"] for rule in policy["egress"] for p in rule.get("ports", [])}
    assert 26379 not in ports
    assert 6379 in ports


# --- the replica accepts what the chart renders ------------------------------------------


@pytest.mark.parametrize("value_set", ["defaults", "ha-prod", "everything-on", "sentinel"])
def test_the_replica_reads_the_rendered_auth_settings(
    render: Any, values: dict[str, Any], k8s: SimpleNamespace, tmp_path: Any
) -> None:
    from service.auth_config import AuthConfig
    from service.envreader import EnvReader

    manifests = render(values)
    env = dict(k8s.env_map(manifests))
    data = _decoded(k8s.find(manifests, "Secret"))
    # Files as the pod sees them: the Secret's mounted keys and the TLS Secret's files.
    for name, value in list(env.items()):
        if name.endswith("_FILE") or name.startswith("REGISTRY_TLS_"):
            path = tmp_path / value.rsplit("/", 1)[1]
            path.write_text(data.get(path.name, "not a real certificate"))
            env[name] = str(path)
    config = AuthConfig.from_env(EnvReader(env), real_store=True, host="0.0.0.0", admin=False)
    assert config.mode == values.get("auth", {}).get("mode", "token")
    subjects = [t.subject for t in config.tokens]
    assert subjects[:2] == ["admin", "helm-test"]
    assert config.tokens[0].sha256 == _digest(data["admin-token"])
