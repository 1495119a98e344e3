"""Matching without sockets: semver constraints, tag operators, ranking, slots."""

from __future__ import annotations

import msgspec
import pytest

from service.domain.matching import (
    Candidate,
    ConstraintError,
    ProviderEntry,
    parse_constraint,
    rank,
    resolve,
    tag_score,
    version_matches,
)
from service.models import Dependency, HeartbeatRequest


@pytest.mark.parametrize(
    ("constraint", "version", "ok"),
    [
        (">=1.2,<2", "1.2.0", True),
        (">=1.2,<2", "2.0.0", False),
        ("^1.2", "1.9.3", True),
        ("^1.2", "2.0.0", False),
        ("^1.2", "1.1.9", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.4", False),
        ("~1.2", "1.2.7", True),
        ("~1.2", "1.3.0", False),
        ("~1", "1.9.0", True),
        ("~1", "2.0.0", False),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.4", False),
        ("*", "0.0.1", True),
        (None, "anything", True),
        (">=1.0", "not-a-version", False),
        (">=1.0.0-rc.1", "1.0.0rc2", True),
    ],
)
def test_version_constraints(constraint: str | None, version: str, ok: bool) -> None:
    assert version_matches(version, parse_constraint(constraint)) is ok


@pytest.mark.parametrize("bad", [">>1", "^x", "~", ">=1,<<2", "1..2"])
def test_invalid_constraints_raise(bad: str) -> None:
    with pytest.raises(ConstraintError):
        parse_constraint(bad)


@pytest.mark.parametrize(
    ("tags", "spec", "score"),
    [
        (["english"], ["english"], 0),
        (["french"], ["english"], None),
        (["english", "fast"], ["english", "+fast"], 1),
        (["english"], ["english", "+fast"], 0),
        (["english", "beta"], ["english", "-beta"], None),
        (["gpu"], [["cpu", "gpu"]], 0),
        (["tpu"], [["cpu", "gpu"]], None),
        (["a", "b", "c"], ["+a", "+b", "+z", "-d"], 2),
    ],
)
def test_tag_operators(tags: list[str], spec: list[str | list[str]], score: int | None) -> None:
    assert tag_score(tags, spec) == score


def _cand(
    agent_id: str,
    version: str = "1.0.0",
    tags: tuple[str, ...] = (),
    *,
    cap: str = "greeting",
    ns: str = "default",
    fn: str = "greet",
) -> Candidate:
    entry = ProviderEntry(
        agent_id=agent_id,
        function_name=fn,
        capability=cap,
        version=version,
        tags=list(tags),
        endpoint=f"http://{agent_id}:1",
        namespace=ns,
    )
    return Candidate(entry, degraded=False)


def test_rank_prefers_tags_then_version_then_id() -> None:
    cands = [
        _cand("c", "2.0.0"),
        _cand("b", "1.0.0", ("fast",)),
        _cand("a", "2.0.0"),
        _cand("d", "3.0.0", ("beta",)),
        _cand("e", "9.9.9", cap="other"),
        _cand("f", "9.9.9", ns="elsewhere"),
    ]
    dep = Dependency(capability="greeting", tags=["+fast", "-beta"])
    assert [c.entry.agent_id for c in rank(dep, cands, namespace="default")] == ["b", "a", "c"]
    dep = Dependency(capability="greeting", version="<2")
    assert [c.entry.agent_id for c in rank(dep, cands, namespace="default")] == ["b"]


def test_resolve_gives_ordered_slots_with_unresolved_placeholders() -> None:
    req = msgspec.convert(
        {
            "agent_id": "consumer-1",
            "tools": [
                {"function_name": "plain", "capability": "plain"},
                {
                    "function_name": "work",
                    "capability": "work",
                    "dependencies": [
                        {"capability": "greeting"},
                        {"capability": "missing"},
                        {"capability": "greeting", "version": ">=5"},
                    ],
                },
            ],
        },
        HeartbeatRequest,
    )
    out = resolve(req, {"greeting": [_cand("g-1")]})
    assert list(out) == ["work"]
    assert [(s.status, s.agent_id, s.capability) for s in out["work"]] == [
        ("available", "g-1", "greeting"),
        ("unresolved", "", "missing"),
        ("unresolved", "", "greeting"),
    ]
    assert out["work"][0].kwargs == {}
    assert out["work"][1].kwargs is None
