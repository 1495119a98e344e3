"""The chart's metadata, schema, values and README stay in sync with each other and with
pyproject.toml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from types import SimpleNamespace
from typing import Any

import helm_python as helm
import yaml

Path = tuple[str, ...]


def _paths(values: Any, prefix: Path = ()) -> set[Path]:
    """Every key path of a values tree (maps only; lists are leaves)."""
    out: set[Path] = set()
    if isinstance(values, dict):
        for key, value in values.items():
            path = (*prefix, key)
            out.add(path)
            out |= _paths(value, path)
    return out


def _closed_schema_paths(schema: dict[str, Any], prefix: Path = ()) -> set[Path]:
    """Key paths the schema declares under closed objects (additionalProperties: false)."""
    out: set[Path] = set()
    if schema.get("additionalProperties") is False:
        for key, node in schema.get("properties", {}).items():
            path = (*prefix, key)
            out.add(path)
            out |= _closed_schema_paths(node, path)
    return out


def test_chart_versions_match_pyproject(k8s: SimpleNamespace, chart: helm.Chart) -> None:
    project = tomllib.loads((k8s.REPO / "pyproject.toml").read_text())["project"]
    assert chart.metadata["version"] == project["version"]
    assert chart.metadata["appVersion"] == project["version"]


def test_chart_metadata(chart: helm.Chart) -> None:
    meta = chart.metadata
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "agent-registry"
    assert meta["type"] == "application"
    assert meta["kubeVersion"] == ">=1.27.0-0"


def test_schema_covers_every_value(k8s: SimpleNamespace, chart: helm.Chart) -> None:
    schema = chart.schema
    assert schema is not None
    assert schema["additionalProperties"] is False
    # Kubernetes-typed objects whose optional fields need no chart default.
    k8s_typed = {
        ("resources",),
        ("networkPolicy", "ingress", "agentNamespaceSelector"),
        ("networkPolicy", "ingress", "monitoringNamespaceSelector"),
    }
    declared = {
        path
        for path in _closed_schema_paths(schema)
        if path != ("global",) and not any(path[: len(t)] == t for t in k8s_typed if path != t)
    }
    defaults = _paths(yaml.safe_load((k8s.CHART_DIR / "values.yaml").read_text()))
    # Every key the schema declares has a default in values.yaml ...
    assert declared - defaults == set()
    # ... and every default that sits directly in a closed object is declared.
    closed = {path[:-1] for path in declared}
    assert {path for path in defaults if path[:-1] in closed} - declared == set()


def test_defaults_pass_the_schema(chart: helm.Chart) -> None:
    chart.validate_schema(chart.values)


def test_defaults_hold_no_credentials(chart: helm.Chart) -> None:
    secrets = chart.values["secrets"]
    assert secrets["adminToken"] == ""
    assert "agentTokens" not in secrets
    assert chart.values["auth"]["tokens"] == []
    assert chart.values["auth"]["mode"] == "token"
    assert secrets["redisPassword"] == ""
    assert secrets["redisSentinelPassword"] == ""
    assert secrets["existingSecret"] == ""


def test_env_files_hold_no_credentials(k8s: SimpleNamespace) -> None:
    for name in ("env-dev", "env-staging", "env-prod"):
        secrets = k8s.load_values(name).get("secrets", {})
        for key in ("adminToken", "redisPassword", "redisSentinelPassword"):
            assert not secrets.get(key), f"{name} commits secrets.{key}"


def test_readme_values_table_matches_values_yaml(k8s: SimpleNamespace) -> None:
    readme = (k8s.CHART_DIR / "README.md").read_text()
    table = readme.split("<!-- values-table:begin -->")[1].split("<!-- values-table:end -->")[0]
    rows = re.findall(r"^\| `([^`]+)` \| `(.*)` \| (.+) \|$", table, flags=re.MULTILINE)
    assert rows, "README.md has no values table"
    values = yaml.safe_load((k8s.CHART_DIR / "values.yaml").read_text())
    documented: set[Path] = set()
    for path, default, description in rows:
        assert description.strip(), path
        key = tuple(path.split("."))
        # KeyError here: the README lists a value that does not exist.
        assert json.loads(default) == _lookup(values, key), f"README default of {path} is stale"
        documented.add(key)
    # Every value is covered: each key path is a row, lies under a row, or is a map
    # whose keys are rows.
    for path in _paths(values):
        covered = any(path[: len(row)] == row for row in documented)
        expanded = any(row[: len(path)] == path for row in documented)
        assert covered or expanded, f"{'.'.join(path)} is missing from the README values table"


def test_values_table_generator_is_in_sync(k8s: SimpleNamespace) -> None:
    result = subprocess.run(
        [sys.executable, str(k8s.REPO / "helm" / "tools" / "values_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _lookup(values: dict[str, Any], path: Path) -> Any:
    node: Any = values
    for part in path:
        node = node[part]
    return node
