"""Every values set renders, and every object it renders is valid Kubernetes.

Built-in kinds are checked with kubernetes-validate in strict mode (unknown fields are
errors) against Kubernetes 1.29 and the newest version the package ships. ServiceMonitor
and PrometheusRule are custom resources without a bundled schema: their structure is
checked by hand here.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

KUBE_VERSIONS = ("1.29.0", latest_version())
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}
BUILTIN_KINDS = {
    "ConfigMap",
    "Deployment",
    "HorizontalPodAutoscaler",
    "Ingress",
    "NetworkPolicy",
    "Pod",
    "PodDisruptionBudget",
    "Secret",
    "Service",
    "ServiceAccount",
}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_object_validates_strictly(
    render: Any, values: dict[str, Any], kube_version: str
) -> None:
    manifests = render(values)
    assert manifests, "nothing rendered"
    for manifest in manifests:
        kind = manifest["kind"]
        if kind in CUSTOM_KINDS:
            continue
        assert kind in BUILTIN_KINDS, f"unexpected kind {kind}: add it to the validation"
        # Raises ValidationError (or SchemaNotFoundError for an unknown apiVersion/kind).
        kubernetes_validate.validate(manifest, kube_version, strict=True)


def test_objects_are_labelled_and_namespaced(
    render: Any, values: dict[str, Any], k8s: SimpleNamespace
) -> None:
    monitoring_ns = {
        "ServiceMonitor": values.get("metrics", {}).get("serviceMonitor", {}).get("namespace"),
        "PrometheusRule": values.get("metrics", {}).get("prometheusRule", {}).get("namespace"),
    }
    for manifest in render(values):
        meta = manifest["metadata"]
        assert meta["namespace"] == (monitoring_ns.get(manifest["kind"]) or k8s.NAMESPACE)
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == k8s.RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "agent-registry-0.1.0"


def test_service_monitor_structure(render: Any, k8s: SimpleNamespace) -> None:
    values = k8s.load_values("everything-on")
    manifests = render(values)
    sm = k8s.find(manifests, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(sm) == {"apiVersion", "kind", "metadata", "spec"}
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = sm["spec"]
    assert set(spec) == {"namespaceSelector", "selector", "endpoints"}
    # It must select the chart's Service, in the release namespace, on its http port.
    service = k8s.find(manifests, "Service")
    assert spec["namespaceSelector"] == {"matchNames": [k8s.NAMESPACE]}
    for key, value in spec["selector"]["matchLabels"].items():
        assert service["metadata"]["labels"][key] == value
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert DURATION.match(endpoint["interval"])
    assert DURATION.match(endpoint["scrapeTimeout"])
    assert endpoint["honorLabels"] is False
    assert endpoint["metricRelabelings"][0]["action"] == "drop"


def test_prometheus_rule_structure(render: Any, k8s: SimpleNamespace) -> None:
    rule = k8s.find(render(k8s.load_values("everything-on")), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (group,) = rule["spec"]["groups"]
    assert set(group) == {"name", "interval", "rules"}
    assert DURATION.match(group["interval"])
    alerts = {r["alert"]: r for r in group["rules"] if "alert" in r}
    assert set(alerts) == {
        "AgentRegistryMassExpiry",
        "AgentRegistryConfigDrift",
        "AgentRegistryConfigRolledBack",
        "AgentRegistryRedisErrors",
        "AgentRegistryReplicasUnavailable",
        "AgentRegistryDown",
    }
    for name, alert in alerts.items():
        assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}, name
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert alert["labels"]["team"] == "platform", name
        assert alert["annotations"]["summary"], name
        assert alert["annotations"]["description"], name
        if "for" in alert:
            assert DURATION.match(alert["for"]), name
    records = [r for r in group["rules"] if "record" in r]
    assert records == [
        {"record": "registry:heartbeats:rate5m", "expr": "sum(rate(registry_heartbeats_total[5m]))"}
    ]
    # The alerts use exactly the metric names the registry exposes.
    exprs = " ".join(a["expr"] for a in alerts.values())
    for metric in (
        "registry_expiries_total",
        "registry_agents",
        "registry_config_convergence_ratio",
        "registry_store_errors_total",
    ):
        assert metric in exprs


def test_optional_objects_are_off_by_default(render: Any, k8s: SimpleNamespace) -> None:
    # The Pod is the `helm test` hook (tests.enabled), which runs only on `helm test`.
    # The Secret is the chart-made one: auth is on by default, with a generated admin token.
    assert k8s.kinds(render({})) == [
        "ConfigMap",
        "Deployment",
        "Pod",
        "Secret",
        "Service",
        "ServiceAccount",
    ]


def test_everything_on_renders_every_kind(render: Any, k8s: SimpleNamespace) -> None:
    assert set(k8s.kinds(render(k8s.load_values("everything-on")))) == (
        BUILTIN_KINDS | CUSTOM_KINDS
    )
