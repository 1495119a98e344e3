"""The compiled schema pre-check is sound: whenever it says valid, jsonschema agrees."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from buildtime.build import Builder
from buildtime.project import Project


def _mutations(doc: Any) -> list[Any]:
    """Copies of ``doc`` with one value replaced, removed or added, at every position."""
    out: list[Any] = []
    replacements: list[Any] = [
        None,
        True,
        1,
        1.5,
        -1,
        "",
        "x" * 600,
        [],
        {},
        ["a", "a"],
        "Bad Name!",
    ]

    def walk(node: Any, path: list[Any]) -> None:
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else []
        )
        for key, value in items:
            for repl in replacements:
                mutated = copy.deepcopy(doc)
                target = mutated
                for step in path:
                    target = target[step]
                target[key] = repl
                out.append(mutated)
            walk(value, [*path, key])
        if isinstance(node, dict):
            mutated = copy.deepcopy(doc)
            target = mutated
            for step in path:
                target = target[step]
            target["unexpected_key"] = 1
            out.append(mutated)

    walk(doc, [])
    return out


def test_fast_check_never_accepts_what_jsonschema_rejects(repo_root: Path) -> None:
    project = Project.load(repo_root)
    builder = Builder(project, environ={})
    build = builder.build_env("prod")
    schemas = builder.schemas
    cases = [("profile", p) for p in build.profiles.values()] + [("catalog", build.catalog)]
    checked = rejected = 0
    for name, doc in cases:
        assert schemas.fast[name](doc)  # valid documents take the fast path
        for mutated in _mutations(doc):
            checked += 1
            if schemas.fast[name](mutated):
                assert schemas.validators[name].is_valid(mutated), mutated
            else:
                rejected += 1
    assert checked > 1000
    assert rejected > 100
