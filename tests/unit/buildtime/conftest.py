"""Fixtures for buildtime tests: small projects on disk and throwaway git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

CONFIG = """environments = ["dev", "staging", "prod"]
default_env = "dev"

[[branches]]
pattern = "prod"
env = "prod"

[[branches]]
pattern = "staging"
env = "staging"

[[branches]]
pattern = "*"
env = "dev"
"""

BASE = """{% import "profiles/_macros.j2" as m %}
profile: {{ profile_name | json }}
description: {% block description %}"base profile"{% endblock %}

thresholds:
{% block thresholds %}
  {}
{% endblock %}
major_keys:
{% block major_keys %}
  - /config/mode
{% endblock %}
capabilities:
{% block capabilities %}
  []
{% endblock %}
dependencies:
{% block dependencies %}
  []
{% endblock %}
secrets: []
config:
  mode: {{ mode | json }}
{% filter indent(2, first=True) %}
{% include "profiles/_partials/common.yaml.j2" %}
{% endfilter %}
{% block settings %}
{% endblock %}
"""

MACROS = """{% macro capability(name, version) %}
  - name: {{ name | json }}
    version: {{ version | json }}
{% endmacro %}
{% macro dependency(capability, version, required=true) %}
  - capability: {{ capability | json }}
    version: {{ version | json }}
    required: {{ required | json }}
{% endmacro %}
"""

COMMON = """logging:
  level: {{ log_level | json }}
{% if tracing %}
tracing:
  endpoint: {{ tracing | json }}
{% endif %}
"""

ALPHA = """{% extends "profiles/_base.yaml.j2" %}
{% block description %}"alpha agent"{% endblock %}
{% block thresholds %}
  heartbeat_interval: 2
  degraded_after: 4
{% endblock %}
{% block capabilities %}
{{ m.capability("alpha", "1.2.0") }}
{% endblock %}
{% block dependencies %}
{{ m.dependency("beta", "^2.0") }}
{% endblock %}
{% block settings %}
  workers:
{% for region in regions %}
    - region: {{ region | json }}
      primary: {{ loop.first | json }}
{% endfor %}
{% endblock %}
"""

BETA = """{% extends "profiles/_base.yaml.j2" %}
{% block capabilities %}
{{ m.capability("beta", "2.1.0") }}
{% endblock %}
"""

CATALOG = """capabilities:
{% for name, versions in {"alpha": ["1.2.0"], "beta": ["2.0.0", "2.1.0"]}.items() %}
  - name: {{ name }}
    versions: {{ versions | json }}
    description: {{ ("the " ~ name ~ " capability") | json }}
{% endfor %}
rules: []
"""

VALUES = {
    "templates/values/common.yaml": "vars:\n  log_level: info\n  tracing: null\n  regions: [eu]\n",
    "templates/values/dev.yaml": "environment: dev\nvars:\n  mode: dev\n",
    "templates/values/staging.json": '{"environment": "staging", "vars": {"mode": "staging"}}\n',
    "templates/values/prod.toml": (
        'environment = "prod"\n[vars]\nmode = "prod"\nregions = ["eu", "us"]\n'
        'tracing = "http://otel:4317"\n'
    ),
}

MINI: dict[str, str] = {
    "templates/buildtime.toml": CONFIG,
    "templates/profiles/_base.yaml.j2": BASE,
    "templates/profiles/_macros.j2": MACROS,
    "templates/profiles/_partials/common.yaml.j2": COMMON,
    "templates/profiles/alpha.yaml.j2": ALPHA,
    "templates/profiles/beta.yaml.j2": BETA,
    "templates/catalog.yaml.j2": CATALOG,
    **VALUES,
}

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Write a project (the mini one by default, with the real schemas); returns its root."""
    counter = iter(range(1000))

    def make(
        files: Mapping[str, str | None] | None = None, *, base: Mapping[str, str] = MINI
    ) -> Path:
        root = tmp_path / f"project{next(counter)}"
        shutil.copytree(REPO / "schemas", root / "schemas", ignore=shutil.ignore_patterns("http"))
        for name, text in {**base, **(files or {})}.items():
            path = root / name
            if text is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    return make


@pytest.fixture
def repo_root() -> Path:
    """The real repository (shipped templates and schemas)."""
    return REPO


@pytest.fixture
def git() -> Callable[..., str]:
    """``git(root, *args)`` with a fixed identity."""
    return run_git


def run_git(root: Path, *args: str) -> str:
    """Run git with a fixed identity and no user or system config."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def git_project(make_project: MakeProject) -> Path:
    """The mini project committed on branch ``main`` of a fresh repository."""
    root = make_project()
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "initial config")
    return root
