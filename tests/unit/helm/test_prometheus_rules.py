"""The PrometheusRule's rules are valid for Prometheus, and the alerts fire (and stay
quiet) on synthetic series, checked with `promtool check rules` and `promtool test rules`.

promtool comes from the Debian package `prometheus`; without it these tests skip.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

RULES_ON = {
    "redis": {"url": "redis://redis:6379/0"},
    "metrics": {"prometheusRule": {"enabled": True}},
}
# The selectors the rules use for release "reg" in namespace "agents".
TARGET = 'job="reg-agent-registry", namespace="agents"'
KSM = 'namespace="agents", deployment="reg-agent-registry", job="kube-state-metrics"'


def _rule_groups(render: Any, k8s: SimpleNamespace, values: dict[str, Any]) -> dict[str, Any]:
    rule = k8s.find(render(values), "PrometheusRule")
    return {"groups": rule["spec"]["groups"]}


def _promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.parametrize("value_set", ["env-prod", "env-staging", "everything-on"])
def test_promtool_check_rules(
    render: Any,
    k8s: SimpleNamespace,
    promtool: str,
    tmp_path: Path,
    values: dict[str, Any],
) -> None:
    groups = _rule_groups(render, k8s, values)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    result = _promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule(
    render: Any, k8s: SimpleNamespace, promtool: str, tmp_path: Path
) -> None:
    """The check above can fail: a syntax error in an expression is reported."""
    groups = _rule_groups(render, k8s, RULES_ON)
    groups["groups"][0]["rules"][0]["expr"] = "sum(rate(registry_store_errors_total[5m]"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    result = _promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode != 0


def _series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


ALERT_TESTS: list[dict[str, Any]] = [
    {
        "name": "mass expiry: 50 of 100 agents expire in 5 minutes",
        "interval": "1m",
        "input_series": [
            _series("registry_expiries_total", f'{TARGET}, instance="a"', "0+10x20"),
            _series("registry_agents", f'{TARGET}, instance="a", status="healthy"', "100x20"),
            # A second replica reports the same fleet-wide gauge: it must not double it.
            _series("registry_agents", f'{TARGET}, instance="b", status="healthy"', "100x20"),
        ],
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "AgentRegistryMassExpiry",
                "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
            }
        ],
    },
    {
        "name": "mass expiry: a trickle of expiries is normal",
        "interval": "1m",
        "input_series": [
            _series("registry_expiries_total", f'{TARGET}, instance="a"', "0+1x20"),
            _series("registry_agents", f'{TARGET}, instance="a", status="healthy"', "100x20"),
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AgentRegistryMassExpiry", "exp_alerts": []}
        ],
    },
    {
        "name": "mass expiry: a tiny fleet losing 3 agents does not page",
        "interval": "1m",
        "input_series": [
            _series("registry_expiries_total", f'{TARGET}, instance="a"', "0x5 3x15"),
            _series("registry_agents", f'{TARGET}, instance="a", status="healthy"', "4x20"),
        ],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "AgentRegistryMassExpiry", "exp_alerts": []}
        ],
    },
    {
        "name": "config drift: half of a profile lags for 20 minutes",
        "interval": "1m",
        "input_series": [
            _series(
                "registry_config_convergence_ratio",
                f'{TARGET}, instance="a", profile="p"',
                "0.5x30",
            ),
            _series(
                "registry_config_convergence_ratio", f'{TARGET}, instance="a", profile="q"', "1x30"
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AgentRegistryConfigDrift", "exp_alerts": []},
            {
                "eval_time": "20m",
                "alertname": "AgentRegistryConfigDrift",
                "exp_alerts": [{"exp_labels": {"severity": "warning", "profile": "p"}}],
            },
        ],
    },
    {
        "name": "config rollback: the gate rolls back once, the alert fires, then resolves",
        "interval": "1m",
        "input_series": [
            _series(
                "registry_rollout_decisions_total",
                f'{TARGET}, instance="a", decision="rollback"',
                "0x10 1x40",
            ),
            _series(
                "registry_rollout_decisions_total",
                f'{TARGET}, instance="b", decision="promote"',
                "0+1x50",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "AgentRegistryConfigRolledBack", "exp_alerts": []},
            {
                "eval_time": "15m",
                "alertname": "AgentRegistryConfigRolledBack",
                "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
            },
            {"eval_time": "40m", "alertname": "AgentRegistryConfigRolledBack", "exp_alerts": []},
        ],
    },
    {
        "name": "config rollback: promotions alone are no alert",
        "interval": "1m",
        "input_series": [
            _series(
                "registry_rollout_decisions_total",
                f'{TARGET}, instance="a", decision="promote"',
                "0+1x30",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": "AgentRegistryConfigRolledBack", "exp_alerts": []}
        ],
    },
    {
        "name": "redis errors: one per second for ten minutes",
        "interval": "1m",
        "input_series": [
            _series("registry_store_errors_total", f'{TARGET}, instance="a"', "0+60x20"),
        ],
        "alert_rule_test": [
            {
                "eval_time": "12m",
                "alertname": "AgentRegistryRedisErrors",
                "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
            }
        ],
    },
    {
        "name": "redis errors: a rare error is no alert",
        "interval": "1m",
        "input_series": [
            _series("registry_store_errors_total", f'{TARGET}, instance="a"', "0+1x20"),
        ],
        "alert_rule_test": [
            {"eval_time": "12m", "alertname": "AgentRegistryRedisErrors", "exp_alerts": []}
        ],
    },
    {
        "name": "replicas: one of three available for 15 minutes",
        "interval": "1m",
        "input_series": [
            _series("kube_deployment_status_replicas_available", KSM, "1x20"),
            _series("kube_deployment_spec_replicas", KSM, "3x20"),
            _series("up", f'{TARGET}, instance="a"', "1x20"),
        ],
        "alert_rule_test": [
            {
                "eval_time": "15m",
                "alertname": "AgentRegistryReplicasUnavailable",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "warning",
                            "namespace": "agents",
                            "deployment": "reg-agent-registry",
                            "job": "kube-state-metrics",
                        }
                    }
                ],
            },
            {"eval_time": "15m", "alertname": "AgentRegistryDown", "exp_alerts": []},
        ],
    },
    {
        "name": "down: no target at all",
        "interval": "1m",
        "input_series": [_series("up", 'job="other", namespace="agents", instance="x"', "1x20")],
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "AgentRegistryDown",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "job": "reg-agent-registry",
                            "namespace": "agents",
                        }
                    }
                ],
            }
        ],
    },
    {
        "name": "down: no replica answers",
        "interval": "1m",
        "input_series": [_series("up", f'{TARGET}, instance="a"', "0x20")],
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "AgentRegistryDown",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "job": "reg-agent-registry",
                            "namespace": "agents",
                        }
                    }
                ],
            }
        ],
    },
]


def test_alerts_fire_on_synthetic_series(
    render: Any, k8s: SimpleNamespace, promtool: str, tmp_path: Path
) -> None:
    groups = _rule_groups(render, k8s, RULES_ON)
    # Annotations are templates over $value; `check rules` validates them. Here only the
    # expressions and labels are under test, so drop them to compare labels alone.
    for rule in groups["groups"][0]["rules"]:
        rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": ALERT_TESTS}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = _promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_tests_can_fail(
    render: Any, k8s: SimpleNamespace, promtool: str, tmp_path: Path
) -> None:
    """The synthetic-series test is not vacuous: a wrong expectation fails it."""
    groups = _rule_groups(render, k8s, RULES_ON)
    for rule in groups["groups"][0]["rules"]:
        rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    wrong = copy.deepcopy(ALERT_TESTS[1])  # the trickle: expect an alert that must not fire
    wrong["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [wrong]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = _promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode != 0
