"""Golden renders: inheritance, include, conditionals and loops produce exactly these payloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from buildtime.build import Builder
from buildtime.project import Project

MakeProject = Callable[..., Path]


def _build(root: Path, env: str) -> dict[str, dict[str, object]]:
    result = Builder(Project.load(root), environ={}).build_env(env)
    assert result.issues == []
    return result.profiles


def test_child_overrides_blocks_and_inherits_the_rest(make_project: MakeProject) -> None:
    profiles = _build(make_project(), "dev")
    assert profiles["alpha"]["description"] == "alpha agent"  # overridden block
    assert profiles["beta"]["description"] == "base profile"  # inherited block
    assert profiles["alpha"]["major_keys"] == ["/config/mode"]
    # Partial thresholds in the child fill from the environment defaults.
    assert profiles["alpha"]["thresholds"] == {
        "heartbeat_interval": 2.0,
        "degraded_after": 4.0,
        "expire_after": 20.0,
        "retention": 300.0,
    }


def test_golden_alpha_prod_covers_include_conditional_and_loop(make_project: MakeProject) -> None:
    alpha = _build(make_project(), "prod")["alpha"]
    assert alpha == {
        "profile": "alpha",
        "description": "alpha agent",
        "thresholds": {
            "heartbeat_interval": 2.0,
            "degraded_after": 4.0,
            "expire_after": 20.0,
            "retention": 300.0,
        },
        "major_keys": ["/config/mode"],
        "capabilities": [{"name": "alpha", "version": "1.2.0"}],
        "dependencies": [{"capability": "beta", "version": "^2.0", "required": True}],
        "secrets": [],
        "config": {
            "mode": "prod",
            "logging": {"level": "info"},  # from the include
            "tracing": {"endpoint": "http://otel:4317"},  # conditional: tracing is set in prod
            "workers": [  # loop over regions
                {"region": "eu", "primary": True},
                {"region": "us", "primary": False},
            ],
        },
    }


def test_conditional_block_is_absent_when_false(make_project: MakeProject) -> None:
    alpha = _build(make_project(), "dev")["alpha"]
    assert "tracing" not in alpha["config"]
    assert alpha["config"]["workers"] == [{"region": "eu", "primary": True}]


def test_super_extends_a_parent_block(make_project: MakeProject) -> None:
    child = (
        '{% extends "profiles/_base.yaml.j2" %}\n'
        "{% block major_keys %}\n{{ super() }}\n  - /config/logging\n{% endblock %}\n"
    )
    profiles = _build(make_project({"templates/profiles/gamma.yaml.j2": child}), "dev")
    assert profiles["gamma"]["major_keys"] == ["/config/mode", "/config/logging"]


def test_shipped_templates_validate_for_every_environment(repo_root: Path) -> None:
    project = Project.load(repo_root)
    issues, builds = Builder(project, environ={}).validate(project.environments)
    assert list(issues) == []
    assert "debug-echo" in builds["dev"].profiles
    assert "debug-echo" not in builds["prod"].profiles  # excluded by values/prod.toml
    assert builds["prod"].profiles["assistant"]["config"]["llm"]["model"] == "gpt-4o"
