"""The chart's Grafana dashboard: its ConfigMap, its JSON structure, and its PromQL.

Every panel expression must parse (promtool checks it as a recording rule, with the Grafana
variables substituted) and may only name metrics the registry really exports (read from
the metric objects in ``service.metrics``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from service import metrics

ON = {"metrics": {"grafanaDashboard": {"enabled": True}}}
DASHBOARD = (
    Path(__file__).resolve().parents[3] / "helm/agent-registry/dashboards/agent-registry.json"
)
REQUIRED_PANELS = {
    "Agents by status",
    "Agents by namespace and status",
    "Heartbeats per second by result",
    "Heartbeat latency p50 / p99",
    "Expiries",
    "Config convergence and drifted agents",
    "Store (Redis) errors per second",
    "Active config version",
}
# What Grafana substitutes before a query reaches Prometheus.
GRAFANA_VARS = {
    "$__rate_interval": "1m",
    "$agent_ns_label": "exported_namespace",
    "$job": "reg-agent-registry",
}
METRIC = re.compile(r"\b(registry_[a-z_]+)\b")


def exported_series() -> set[str]:
    """Series names the registry's own metrics produce (``/metrics``)."""
    names: set[str] = set()
    for obj in vars(metrics).values():
        if isinstance(obj, Counter):
            names.add(f"{obj._name}_total")
        elif isinstance(obj, Histogram):
            names.update(f"{obj._name}_{s}" for s in ("bucket", "sum", "count"))
        elif isinstance(obj, Gauge):
            names.add(obj._name)
    return names


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def substituted(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def test_configmap_carries_the_dashboard_with_the_sidecar_label(
    render: Any, k8s: SimpleNamespace
) -> None:
    cm = k8s.find(render(ON), "ConfigMap", f"{k8s.FULLNAME}-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["agent-registry.json"]) == json.loads(DASHBOARD.read_text())


def test_the_dashboard_is_off_by_default(render: Any) -> None:
    names = [m["metadata"]["name"] for m in render({})]
    assert not any(n.endswith("-dashboard") for n in names)


def test_sidecar_label_namespace_and_annotations_are_values(
    render: Any, k8s: SimpleNamespace
) -> None:
    values = {
        "metrics": {
            "grafanaDashboard": {
                "enabled": True,
                "namespace": "monitoring",
                "sidecarLabel": "grafana.io/dashboard",
                "sidecarLabelValue": "registry",
                "annotations": {"grafana_folder": "Agents"},
            }
        }
    }
    cm = k8s.find(render(values), "ConfigMap", f"{k8s.FULLNAME}-dashboard")
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana.io/dashboard"] == "registry"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Agents"


def test_dashboard_structure() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "agent-registry"
    assert {p["title"] for p in dash["panels"]} >= REQUIRED_PANELS
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert variables == {"datasource", "job", "agent_ns_label"}
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"], panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
    # Every variable used in an expression is defined (or Grafana's own).
    used = {m for e in expressions(dash) for m in re.findall(r"\$(\w+)", e)}
    assert used <= variables | {"__rate_interval"}


def test_every_expression_names_only_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exported = exported_series()
    assert "registry_heartbeats_total" in exported  # the reader above works
    named = {m for e in expressions(dash) for m in METRIC.findall(e)}
    assert named, "no registry metric in the dashboard"
    assert named <= exported, named - exported
    # And every figure the issue asks for is on it.
    for wanted in (
        "registry_agents",
        "registry_heartbeats_total",
        "registry_heartbeat_duration_seconds_bucket",
        "registry_expiries_total",
        "registry_config_convergence_ratio",
        "registry_config_drifted_agents",
        "registry_store_errors_total",
        "registry_config_active",
    ):
        assert wanted in named, wanted


def test_every_expression_parses_in_promtool(promtool: str, tmp_path: Path) -> None:
    dash = json.loads(DASHBOARD.read_text())
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": substituted(e)}
        for i, e in enumerate(expressions(dash))
    ]
    (tmp_path / "dashboard.rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    result = subprocess.run(
        [promtool, "check", "rules", "dashboard.rules.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout + result.stderr


@pytest.mark.parametrize("broken", ["sum(rate(registry_heartbeats_total[1m])", "max by (le"])
def test_promtool_rejects_a_broken_expression(promtool: str, tmp_path: Path, broken: str) -> None:
    """The parse check above can fail."""
    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "x:y", "expr": broken}]}]})
    )
    result = subprocess.run(
        [promtool, "check", "rules", "r.yaml"], cwd=tmp_path, capture_output=True, timeout=60
    )
    assert result.returncode != 0
