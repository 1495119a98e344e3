"""Fixtures for the Helm chart tests: render helm/agent-registry with Helm's own engine.

helm-python-sdk binds Helm's Go SDK (no helm binary, no cluster, no network). Rendering
runs the chart's values.schema.json and the templates' `fail` rules exactly as
`helm install` / `helm template` would.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART_DIR = REPO / "helm" / "agent-registry"
VALUES_DIR = Path(__file__).resolve().parent / "values"

RELEASE = "reg"
NAMESPACE = "agents"
FULLNAME = "reg-agent-registry"

# Every values set the suite renders: the chart's defaults, its per-environment files,
# and the scenario files under tests/unit/helm/values/.
ENV_FILES = {f"env-{env}": CHART_DIR / f"values-{env}.yaml" for env in ("dev", "staging", "prod")}
SCENARIO_FILES = {path.stem: path for path in sorted(VALUES_DIR.glob("*.yaml"))}
VALUE_SETS: dict[str, Path | None] = {"defaults": None, **ENV_FILES, **SCENARIO_FILES}

# The inline credentials used by the scenario files; they must only ever show up in
# the Secret object.
SECRET_STRINGS = (
    "admin-token-0123456789abcdef",
    "agent-token-alpha-0123456789",
    "agent-token-bravo-0123456789",
    "redis-password-s3cr3t-value",
    "sentinel-password-s3cr3t-value",
)

Manifest = dict[str, Any]
RenderFn = Callable[..., list[Manifest]]


def load_values(name: str) -> dict[str, Any]:
    """The values of a named set (empty for the chart defaults)."""
    path = VALUE_SETS[name]
    if path is None:
        return {}
    loaded = yaml.safe_load(path.read_text())
    return loaded or {}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm merges -f files: maps recursively, everything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The one manifest of `kind` (and `name`); fails the test if absent or ambiguous."""
    hits = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]


def kinds(manifests: list[Manifest]) -> list[str]:
    return sorted(m["kind"] for m in manifests)


def container(manifests: list[Manifest]) -> dict[str, Any]:
    pod = find(manifests, "Deployment")["spec"]["template"]["spec"]
    (registry,) = (c for c in pod["containers"] if c["name"] == "registry")
    return registry


def env_map(manifests: list[Manifest]) -> dict[str, str]:
    """Container env (plain values) plus the ConfigMap it loads with envFrom."""
    config = find(manifests, "ConfigMap")["data"]
    direct = {e["name"]: e.get("value") for e in container(manifests).get("env", [])}
    return {**config, **direct}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes `value_set` once per values set, unless it picks its own."""
    own = any(
        "value_set" in marker.args[0] for marker in metafunc.definition.iter_markers("parametrize")
    )
    if "value_set" in metafunc.fixturenames and not own:
        metafunc.parametrize("value_set", list(VALUE_SETS))


@pytest.fixture
def values(value_set: str) -> dict[str, Any]:
    return load_values(value_set)


@pytest.fixture(scope="session")
def k8s() -> SimpleNamespace:
    """Helpers and constants for the tests (importlib mode: tests cannot import conftest)."""
    return SimpleNamespace(
        CHART_DIR=CHART_DIR,
        REPO=REPO,
        RELEASE=RELEASE,
        NAMESPACE=NAMESPACE,
        FULLNAME=FULLNAME,
        SECRET_STRINGS=SECRET_STRINGS,
        VALUE_SETS=VALUE_SETS,
        load_values=load_values,
        deep_merge=deep_merge,
        find=find,
        kinds=kinds,
        container=container,
        env_map=env_map,
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool (Debian: apt-get install prometheus); skips when it is missing."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian/Ubuntu: apt-get install -y prometheus)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _helm_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep Helm's config, cache and data dirs out of the real HOME."""
    home = tmp_path_factory.mktemp("helm-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for var, sub in (
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ):
            mp.setenv(var, os.fspath(home / sub))
        yield


@pytest.fixture(scope="session")
def chart(_helm_home: None) -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render_raw(chart: helm.Chart) -> Callable[..., dict[str, str]]:
    """Template path -> rendered text, as Helm returns it."""

    def _render(values: dict[str, Any] | None = None, *, revision: int = 1) -> dict[str, str]:
        return chart.render(
            values=values or {},
            name=RELEASE,
            namespace=NAMESPACE,
            revision=revision,
            is_install=revision == 1,
            is_upgrade=revision > 1,
        )

    return _render


@pytest.fixture(scope="session")
def render(render_raw: Callable[..., dict[str, str]]) -> RenderFn:
    """Rendered Kubernetes objects (NOTES.txt and empty templates left out)."""

    def _render(values: dict[str, Any] | None = None, *, revision: int = 1) -> list[Manifest]:
        manifests: list[Manifest] = []
        for path, text in sorted(render_raw(values, revision=revision).items()):
            if path.endswith("NOTES.txt"):
                continue
            manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return manifests

    return _render
