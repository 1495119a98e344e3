"""Semantic bundle diff: keys added/removed/changed per profile and whether a change is major."""

from __future__ import annotations

import json
from typing import Any

from buildtime.difftext import format_diff
from service.bundle import Bundle, assemble_bundle
from service.bundle_diff import diff_bundles


def _bundle(
    profiles: dict[str, dict[str, Any]], caps: list[dict[str, Any]] | None = None
) -> Bundle:
    return assemble_bundle(
        profiles=profiles,
        catalog={"capabilities": caps or []},
        environment="dev",
        git={},
        schema_versions={},
    )


def _profile(name: str, **config: Any) -> dict[str, Any]:
    return {"profile": name, "major_keys": ["/config/model"], "config": config}


def test_minor_and_major_changes() -> None:
    a = _bundle({"p": _profile("p", model="m1", level="info", old=1)})
    b = _bundle({"p": _profile("p", model="m1", level="debug", new=2)})
    diff = diff_bundles(a, b)
    [p] = diff.profiles
    assert (p.changed, p.added, p.removed) == (["/config/level"], ["/config/new"], ["/config/old"])
    assert p.major is False
    assert diff.major is False

    c = _bundle({"p": _profile("p", model="m2", level="info", old=1)})
    [p] = diff_bundles(a, c).profiles
    assert p.major is True
    assert p.major_paths == ["/config/model"]


def test_major_key_covers_nested_paths_and_replacement() -> None:
    a = _bundle({"p": {"profile": "p", "major_keys": ["/config/llm"], "config": {"llm": {"m": 1}}}})
    b = _bundle({"p": {"profile": "p", "major_keys": ["/config/llm"], "config": {"llm": {"m": 2}}}})
    assert diff_bundles(a, b).major is True  # /config/llm/m lies under /config/llm
    c = _bundle({"p": {"profile": "p", "major_keys": ["/config/llm/m"], "config": {}}})
    d = _bundle(
        {"p": {"profile": "p", "major_keys": ["/config/llm/m"], "config": {"llm": {"m": 1}}}}
    )
    assert diff_bundles(c, d).major is True  # /config/llm added contains the major key


def test_profiles_and_catalog_added_removed() -> None:
    a = _bundle({"p": _profile("p")}, [{"name": "x", "versions": ["1.0.0"]}])
    b = _bundle({"q": _profile("q")}, [{"name": "x", "versions": ["1.1.0"]}, {"name": "y"}])
    diff = diff_bundles(a, b)
    assert (diff.profiles_added, diff.profiles_removed) == (["q"], ["p"])
    assert diff.catalog.added == ["y"]
    assert [c.path for c in diff.catalog.changed["x"]] == ["/versions"]
    assert not diff.identical


def test_identical_bundles_and_json_encoding() -> None:
    a = _bundle({"p": _profile("p", model="m")})
    diff = diff_bundles(a, a)
    assert diff.identical
    assert json.loads(diff.to_json())["from_version"] == a.version


def test_type_change_is_a_change() -> None:
    a = _bundle({"p": _profile("p", n=1)})
    b = _bundle({"p": _profile("p", n=1.0)})
    [p] = diff_bundles(a, b).profiles
    assert p.changed == ["/config/n"]


def test_a_changed_rollout_policy_shows_under_defaults() -> None:
    steps = [{"share": 5.0}, {"share": 100.0}]
    a = _bundle({"p": _profile("p")})
    b = assemble_bundle(
        profiles={"p": _profile("p")},
        catalog={"capabilities": []},
        environment="dev",
        git={},
        schema_versions={},
        rollout={"steps": steps, "gate": {"min_sample": 10}},
    )
    c = assemble_bundle(
        profiles={"p": _profile("p")},
        catalog={"capabilities": []},
        environment="dev",
        git={},
        schema_versions={},
        rollout={"steps": [{"share": 20.0}, *steps[1:]], "gate": {"min_sample": 5}},
    )
    added = diff_bundles(a, b)
    assert [(d.path, d.kind) for d in added.defaults] == [("/rollout", "added")]
    assert not added.identical
    assert added.major is False  # a policy changes how config is activated, not the agents

    changed = diff_bundles(b, c)
    assert [(d.path, d.kind) for d in changed.defaults] == [
        ("/rollout/gate/min_sample", "changed"),
        ("/rollout/steps", "changed"),  # lists compare whole
    ]
    text = format_diff(changed)
    assert "defaults:\n    ~ /rollout/gate/min_sample: 10 -> 5\n    ~ /rollout/steps: " in text
