"""One table, every path: the build checks and the runtime matcher must agree on each case.

Build side: ``buildtime.depcheck.check_all`` with a catalog offering one version. Run time:
``parse_constraint``/``version_matches``, ``rank`` over a live provider, the heartbeat's
``validate_semantics`` and the admin API's ``validate_capability_dependencies``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec
import pytest

from buildtime.depcheck import check_all
from buildtime.issues import Issue
from service.domain.catalog import validate_capability_dependencies
from service.domain.matching import (
    Candidate,
    ConstraintError,
    ProviderEntry,
    parse_constraint,
    rank,
    tag_score,
    tags_admit,
    version_matches,
)
from service.domain.thresholds import ThresholdError, Thresholds
from service.errors import InvalidInput
from service.models import Dependency, HeartbeatRequest
from service.registry.heartbeat import validate_semantics
from service.settings import Settings, SettingsError

Outcome = Literal["match", "no-match", "invalid"]
M, N, BAD = "match", "no-match", "invalid"

CASES: list[tuple[str, str, Outcome]] = [
    # a bare partial version is a range, a full one exact
    ("1.2", "1.2.0", M),
    ("1.2", "1.2.5", M),
    ("1.2", "1.3.0", N),
    ("1", "1.9.9", M),
    ("1", "2.0.0", N),
    ("1.2.3", "1.2.3", M),
    ("1.2.3", "1.2.4", N),
    ("=1.2", "1.2.7", M),
    ("1.2.post1", "1.2.post1", M),  # a suffixed version is never partial
    ("1.2.post1", "1.2.0", N),
    ("==1.2", "1.2.0", M),  # PEP 440 ==: exact, zero-padded
    ("==1.2", "1.2.5", N),
    # wildcards
    ("1.x", "1.0.0", M),
    ("1.x", "1.5.2", M),
    ("1.x", "2.0.0", N),
    ("1.2.*", "1.2.9", M),
    ("1.2.*", "1.3.0", N),
    ("!=1.2.*", "1.2.9", N),
    ("!=1.2.*", "1.3.0", M),
    # npm caret and tilde
    ("^1.2", "1.9.3", M),
    ("^1.2", "1.1.9", N),
    ("^1.2", "2.0.0", N),
    ("^0.2.3", "0.2.9", M),
    ("^0.2.3", "0.3.0", N),
    ("^0.0.3", "0.0.4", N),
    ("~1.2", "1.2.7", M),
    ("~1.2", "1.3.0", N),
    ("~1", "1.9.0", M),
    ("~1", "2.0.0", N),
    ("~=1.2", "1.9.0", M),
    ("~=1.2", "2.0.0", N),
    # AND (comma or space) and OR groups
    (">=1,<2", "1.0.0", M),
    (">=1,<2", "1.99.0", M),
    (">=1,<2", "2.0.0", N),
    (">=1.2 <2", "1.5.0", M),
    (">= 1.2, < 2", "2.0.0", N),
    ("^1 || ^2", "1.4.0", M),
    ("^1 || ^2", "2.9.0", M),
    ("^1 || ^2", "3.0.0", N),
    ("1.x || >=3.1", "3.2.0", M),
    ("1.x || >=3.1", "2.0.0", N),
    # any
    ("*", "0.0.1", M),
    ("x", "7.0.0", M),
    ("latest", "1.0.0-rc.1", M),
    ("^1 || *", "9.0.0", M),
    # pre-releases: only when a term names a pre-release of the same release
    (">=1.0.0-rc.1", "1.0.0-rc.2", M),
    (">=1.0.0-rc.1", "1.0.0", M),
    (">=1.0.0-rc.1", "1.1.0-rc.1", N),
    ("^1.2", "1.5.0-beta.1", N),
    ("1.x", "1.5.0-beta.1", N),
    ("<2", "2.0.0-rc.1", N),
    ("1.0.0-rc.1", "1.0.0-rc.1", M),
    ("^1.0.0-beta || ^2", "1.0.0-beta.2", M),
    ("^1.0.0-beta || ^2", "2.0.0-beta.2", N),
    # invalid: both sides reject
    (">>1", "1.0.0", BAD),
    ("^x", "1.0.0", BAD),
    ("~", "1.0.0", BAD),
    ("~=1", "1.0.0", BAD),
    (">=1,<<2", "1.0.0", BAD),
    ("1..2", "1.0.0", BAD),
    ("about two", "1.0.0", BAD),
    ("^1 ||", "1.0.0", BAD),
    ("1.x.3", "1.0.0", BAD),
    (">=1.x", "1.0.0", BAD),
    ("1.2 - 2.0", "1.5.0", BAD),
]


def _catalog(version: str) -> dict[str, Any]:
    return {
        "capabilities": [
            {"name": "svc", "versions": [version], "dependencies": []},
            {"name": "app", "versions": ["1.0.0"], "dependencies": []},
        ]
    }


def _profile(constraint: str) -> dict[str, Any]:
    return {
        "capabilities": [{"name": "app", "version": "1.0.0"}],
        "dependencies": [{"capability": "svc", "version": constraint}],
        "thresholds": {"heartbeat_interval": 5.0, "degraded_after": 10.0, "expire_after": 20.0},
        "major_keys": [],
        "config": {},
    }


def _build_outcome(constraint: str, version: str) -> Outcome:
    issues = check_all(_catalog(version), "catalog", {"p": _profile(constraint)}, {"p": "p.j2"})
    codes = {i.code for i in issues}
    assert codes <= {"dep-bad-constraint", "dep-unsatisfiable"}, issues
    return BAD if "dep-bad-constraint" in codes else N if codes else M


def _cand(version: str, tags: Sequence[str] = (), agent_id: str = "p-1") -> Candidate:
    entry = ProviderEntry(
        agent_id=agent_id,
        function_name="f",
        capability="svc",
        version=version,
        tags=list(tags),
        endpoint="http://p:1",
        namespace="default",
    )
    return Candidate(entry, degraded=False)


def _runtime_outcome(constraint: str, version: str) -> Outcome:
    body = {
        "agent_id": "c-1",
        "tools": [
            {
                "function_name": "g",
                "capability": "app",
                "dependencies": [{"capability": "svc", "version": constraint}],
            }
        ],
    }
    try:
        parsed = parse_constraint(constraint)
    except ConstraintError:
        # Rejected at the edge: by the documented pattern, or by the grammar behind it.
        try:
            request = msgspec.convert(body, HeartbeatRequest)
        except msgspec.ValidationError:
            return BAD
        with pytest.raises(InvalidInput):
            validate_semantics(request)
        return BAD
    request = msgspec.convert(body, HeartbeatRequest)
    validate_semantics(request)
    ranked = rank(
        Dependency(capability="svc", version=constraint), [_cand(version)], namespace="default"
    )
    assert bool(ranked) is version_matches(version, parsed)
    return M if ranked else N


def _admin_outcome(constraint: str, version: str) -> Outcome:
    cap = {"name": "app", "dependencies": [{"capability": "svc", "version": constraint}]}
    kinds = {p.kind for p in validate_capability_dependencies(cap, _catalog(version)).problems}
    assert kinds <= {"invalid", "version_conflict"}
    return BAD if "invalid" in kinds else N if kinds else M


@pytest.mark.parametrize(("constraint", "version", "expected"), CASES)
def test_build_and_runtime_agree_on_constraints(
    constraint: str, version: str, expected: Outcome
) -> None:
    assert _build_outcome(constraint, version) == expected
    assert _runtime_outcome(constraint, version) == expected
    assert _admin_outcome(constraint, version) == expected


TAG_CASES: list[tuple[list[str], list[str | list[str]], int | None]] = [
    (["english"], ["english"], 0),  # plain: required
    (["french"], ["english"], None),
    (["english"], ["+fast"], 0),  # +tag: preferred, never excludes
    (["fast"], ["+fast"], 1),
    (["english", "fast"], ["english", "+fast", "+gpu"], 1),
    (["beta"], ["-beta"], None),  # -tag: excludes
    (["stable"], ["-beta"], 0),
    (["gpu"], [["cpu", "gpu"]], 0),  # nested list: any of
    (["tpu"], [["cpu", "gpu"]], None),
    (["tpu"], [["cpu", "-beta"]], 0),  # a -tag member holds when the tag is absent
    ([], [], 0),
]


@pytest.mark.parametrize(("tags", "spec", "score"), TAG_CASES)
def test_dependency_matching_and_list_filters_agree_on_tags(
    tags: list[str], spec: list[str | list[str]], score: int | None
) -> None:
    assert tag_score(tags, spec) == score
    assert tags_admit(tags, spec) is (score is not None)
    ranked = rank(
        Dependency(capability="svc", tags=spec), [_cand("1.0.0", tags)], namespace="default"
    )
    assert bool(ranked) is (score is not None)


def test_rank_orders_by_preferred_tags_but_admits_those_without() -> None:
    cands = [_cand("2.0.0", (), "a"), _cand("1.0.0", ("fast",), "b")]
    ranked = rank(Dependency(capability="svc", tags=["+fast"]), cands, namespace="default")
    assert [c.entry.agent_id for c in ranked] == ["b", "a"]


def _cycle_catalog(back_required: bool) -> dict[str, Any]:
    return {
        "capabilities": [
            {
                "name": "alpha",
                "versions": ["1.0.0"],
                "dependencies": [{"capability": "beta", "version": "^1"}],
            },
            {
                "name": "beta",
                "versions": ["1.0.0"],
                "dependencies": [
                    {"capability": "alpha", "version": "^1", "required": back_required}
                ],
            },
        ]
    }


@pytest.mark.parametrize("back_required", [True, False])
def test_cycle_rule_follows_required_edges_only_on_both_sides(back_required: bool) -> None:
    catalog = _cycle_catalog(back_required)
    build = [i.code for i in check_all(catalog, "catalog", {}, {})]
    assert (build == ["dep-cycle"]) is back_required
    assert build in (["dep-cycle"], [])
    beta = catalog["capabilities"][1]
    runtime = [p.kind for p in validate_capability_dependencies(beta, catalog).problems]
    assert runtime == (["cycle"] if back_required else [])


def test_optional_dependency_in_a_profile_makes_no_cycle() -> None:
    catalog = _cycle_catalog(False)
    catalog["capabilities"][1]["dependencies"] = []
    profile = _profile("^1")
    profile["capabilities"] = [{"name": "beta", "version": "1.0.0"}]
    profile["dependencies"] = [{"capability": "alpha", "version": "^1", "required": False}]
    assert check_all(catalog, "catalog", {"p": profile}, {"p": "p.j2"}) == []
    profile["dependencies"][0]["required"] = True
    [issue] = check_all(catalog, "catalog", {"p": profile}, {"p": "p.j2"})
    assert issue.code == "dep-cycle"


# Thresholds: 0 < heartbeat_interval < degraded_after < expire_after, retention >= 0. The
# values-file side is in tests/unit/buildtime/test_errors.py (it needs a project on disk).


def _threshold_issues(thresholds: dict[str, float]) -> list[Issue]:
    profile = {**_profile("^1"), "dependencies": [], "thresholds": thresholds}
    catalog = _catalog("1.0.0")
    return check_all(catalog, "catalog", {"p": profile}, {"p": "p.j2"})


def test_degraded_after_equal_to_heartbeat_interval_is_rejected_on_both_sides() -> None:
    bad = {"heartbeat_interval": 5.0, "degraded_after": 5.0, "expire_after": 20.0}
    [issue] = _threshold_issues(bad)
    assert (issue.code, issue.pointer) == ("thresholds", "/thresholds/degraded_after")
    assert issue.message == "degraded_after (5) must exceed heartbeat_interval (5)"
    with pytest.raises(ThresholdError, match=r"degraded_after .* heartbeat_interval"):
        Thresholds(**bad)
    env = {"REGISTRY_HEARTBEAT_INTERVAL": "5", "REGISTRY_DEGRADED_AFTER": "5"}
    with pytest.raises(
        SettingsError,
        match=r"^REGISTRY_DEGRADED_AFTER \(5\) must exceed REGISTRY_HEARTBEAT_INTERVAL \(5\)",
    ):
        Settings.from_env(env)


def test_expire_after_equal_to_degraded_after_is_rejected_on_both_sides() -> None:
    bad = {"heartbeat_interval": 5.0, "degraded_after": 10.0, "expire_after": 10.0}
    [issue] = _threshold_issues(bad)
    assert issue.pointer == "/thresholds/expire_after"
    assert issue.message == "expire_after (10) must exceed degraded_after (10)"
    with pytest.raises(ThresholdError):
        Thresholds(**bad)
    with pytest.raises(SettingsError, match=r"REGISTRY_EXPIRE_AFTER .* REGISTRY_DEGRADED_AFTER"):
        Settings.from_env({"REGISTRY_EXPIRE_AFTER": "10"})


def test_every_broken_part_is_reported_naming_its_variables() -> None:
    env = {
        "REGISTRY_HEARTBEAT_INTERVAL": "0",
        "REGISTRY_DEGRADED_AFTER": "30",
        "REGISTRY_EXPIRE_AFTER": "30",
        "REGISTRY_RETENTION": "-1",
    }
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    message = str(info.value)
    for part in (
        "REGISTRY_HEARTBEAT_INTERVAL (0) must be > 0",
        "REGISTRY_EXPIRE_AFTER (30) must exceed REGISTRY_DEGRADED_AFTER (30)",
        "REGISTRY_RETENTION (-1) must be >= 0",
    ):
        assert part in message
    bad = {"heartbeat_interval": 1.0, "degraded_after": 2.0, "expire_after": 3.0, "retention": -1}
    [issue] = _threshold_issues(bad)
    assert issue.pointer == "/thresholds/retention"
    assert Thresholds(5, 5.5, 6, 0).to_dict()["retention"] == 0  # the boundaries that pass
