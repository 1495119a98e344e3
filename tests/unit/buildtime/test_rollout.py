"""The rollout policy in the bundle: values -> checked by the domain rule -> manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from buildtime.build import Builder
from buildtime.issues import Issue
from buildtime.project import Project
from service.bundle import Bundle, load_bundle
from service.domain.rollout import Gate, Policy

MakeProject = Callable[..., Path]
GIT = {"commit": None, "tag": None, "branch": None, "dirty": None}
REPO = Path(__file__).resolve().parents[3]
# The shipped templates and values: the tests change one file of them at a time.
SHIPPED = {
    p.relative_to(REPO).as_posix(): p.read_text()
    for p in sorted((REPO / "templates").rglob("*"))
    if p.is_file()
}
COMMON = SHIPPED["templates/values/common.yaml"]
STAGING: dict[str, Any] = json.loads(SHIPPED["templates/values/staging.json"])


def _project(make_project: MakeProject, files: dict[str, str] | None = None) -> Path:
    return make_project(files, base=SHIPPED)


def _staging(**extra: Any) -> dict[str, str]:
    """``values/staging.json`` with top-level keys replaced (indented: errors get lines)."""
    return {"templates/values/staging.json": json.dumps({**STAGING, **extra}, indent=2)}


def _write(root: Path, env: str, out: Path) -> Bundle:
    Builder(Project.load(root), environ={}).write(env, out, GIT)
    return load_bundle(out)  # what a replica sees: the verified bundle on disk


def _issues(root: Path, env: str = "staging") -> list[Issue]:
    issues, _ = Builder(Project.load(root), environ={}).validate([env])
    return list(issues)


def _line(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_shipped_staging_and_prod_carry_the_default_policy(
    repo_root: Path, tmp_path: Path, env: str
) -> None:
    bundle = _write(repo_root, env, tmp_path / env)
    policy = bundle.rollout_policy
    assert policy is not None
    assert [(s.share, s.hold_intervals, s.hold_seconds) for s in policy.steps] == [
        (5.0, 3, None),
        (25.0, 3, None),
        (100.0, 3, None),
    ]
    assert policy.gate == Gate()
    assert policy.check_seconds is None
    # Every profile follows the policy: the shipped values override no profile's rollout.
    assert all(bundle.rollout_override(name) is None for name in bundle.profiles)


def test_shipped_dev_has_no_policy_so_activation_stays_immediate(
    repo_root: Path, tmp_path: Path
) -> None:
    bundle = _write(repo_root, "dev", tmp_path / "dev")
    assert bundle.rollout_policy is None
    assert "rollout" not in bundle.manifest["defaults"]  # null in dev.yaml writes no key


def test_policy_parse_of_a_verified_manifest(repo_root: Path, tmp_path: Path) -> None:
    bundle = _write(repo_root, "prod", tmp_path / "prod")
    raw = bundle.manifest["defaults"]["rollout"]
    # Written in full (defaults included) and typed as the domain types it.
    assert raw == {
        "steps": [
            {"share": 5.0, "hold_intervals": 3},
            {"share": 25.0, "hold_intervals": 3},
            {"share": 100.0, "hold_intervals": 3},
        ],
        "gate": {
            "max_failure_rate": 0.05,
            "max_degraded_excess": 0.1,
            "max_expired_excess": 0.05,
            "max_restart_excess": 0.1,
            "min_sample": 10,
            "small_sample_allowance": 0,
        },
    }
    assert Policy.parse(raw) == bundle.rollout_policy


def test_an_environment_overrides_part_of_the_policy(
    make_project: MakeProject, tmp_path: Path
) -> None:
    staging = _staging(
        defaults={
            **STAGING["defaults"],
            "rollout": {
                "steps": [{"share": 50}, {"share": 100, "hold_seconds": 30}],
                "gate": {"max_failure_rate": 0.01},
                "check_seconds": 2,
            },
        }
    )
    prod = SHIPPED["templates/values/prod.toml"] + "\n[defaults.rollout.gate]\nmin_sample = 20\n"
    root = _project(make_project, {**staging, "templates/values/prod.toml": prod})

    policy = _write(root, "staging", tmp_path / "staging").rollout_policy
    assert policy is not None
    assert [s.share for s in policy.steps] == [50.0, 100.0]  # a list replaces common's
    assert policy.hold_ms(0, 5.0) == 15_000  # 3 intervals by default
    assert policy.hold_ms(1, 5.0) == 30_000
    assert policy.check_ms(5.0) == 2_000
    # A map merges: the other gate thresholds are still common's.
    assert policy.gate == Gate(max_failure_rate=0.01)

    policy = _write(root, "prod", tmp_path / "prod").rollout_policy
    assert policy is not None
    assert [s.share for s in policy.steps] == [5.0, 25.0, 100.0]
    assert policy.gate == Gate(min_sample=20)


def test_how_a_number_is_written_does_not_change_the_version(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plain = _write(_project(make_project), "staging", tmp_path / "a")
    floats = _project(
        make_project,
        {"templates/values/common.yaml": COMMON.replace("{share: 5,", "{share: 5.0,")},
    )
    assert _write(floats, "staging", tmp_path / "b").version == plain.version


def test_a_profile_override_from_the_values_round_trips(
    make_project: MakeProject, tmp_path: Path
) -> None:
    override = {"shares": [1, 10, 100], "gate": {"max_failure_rate": 0.02, "min_sample": 4}}
    root = _project(make_project, _staging(profiles={"geocoder": {"rollout": override}}))
    bundle = _write(root, "staging", tmp_path / "b")
    own = bundle.rollout_override("geocoder")
    assert own == {
        "shares": [1.0, 10.0, 100.0],
        "gate": {"max_failure_rate": 0.02, "min_sample": 4},
    }
    policy = bundle.rollout_policy
    assert policy is not None
    assert policy.shares_for(own) == (1.0, 10.0, 100.0)
    assert policy.gate_for(own) == Gate(max_failure_rate=0.02, min_sample=4)
    assert bundle.rollout_override("weather-agent") is None
    assert policy.shares_for(None) == (5.0, 25.0, 100.0)


CANARY = """{% extends "profiles/_base.yaml.j2" %}
{% block rollout %}
rollout:
  shares: [10, 50, 100]
{% endblock %}
"""


def test_a_profile_template_sets_its_own_rollout_block(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = _project(make_project, {"templates/profiles/canary.yaml.j2": CANARY})
    bundle = _write(root, "staging", tmp_path / "b")
    assert bundle.rollout_override("canary") == {"shares": [10.0, 50.0, 100.0]}


def test_an_override_in_an_environment_without_a_policy_is_an_issue(
    make_project: MakeProject,
) -> None:
    dev = SHIPPED["templates/values/dev.yaml"].replace(
        "  weather-agent:\n", "  weather-agent:\n    rollout: {shares: [100]}\n"
    )
    root = _project(
        make_project,
        {"templates/values/dev.yaml": dev, "templates/profiles/canary.yaml.j2": CANARY},
    )
    found = sorted(((i.code, i.file, i.line, i.pointer) for i in _issues(root, "dev")), key=str)
    assert found == [
        ("rollout", "templates/profiles/canary.yaml.j2", None, "/rollout"),
        (
            "rollout",
            "templates/values/dev.yaml",
            _line(dev, "rollout: {shares"),
            "/profiles/weather-agent/rollout",
        ),
    ]
    assert all("has no rollout policy" in i.message for i in _issues(root, "dev"))


def _common(old: str, new: str) -> dict[str, str]:
    assert old in COMMON
    return {"templates/values/common.yaml": COMMON.replace(old, new)}


BROKEN: list[tuple[str, dict[str, str], str, str, str, str, str | None]] = [
    # (case, files, code, file, pointer, in the message, on the line holding)
    (
        "shares not growing",
        _common("{share: 25,", "{share: 4,"),
        "rollout",
        "templates/values/common.yaml",
        "/defaults/rollout/steps/1/share",
        "share 4 does not grow past 5",
        "{share: 4,",
    ),
    (
        "last share not 100",
        _staging(
            defaults={**STAGING["defaults"], "rollout": {"steps": [{"share": 5}, {"share": 50}]}}
        ),
        "rollout",
        "templates/values/staging.json",
        "/defaults/rollout/steps/1/share",
        "the last step's share must be 100",
        '"share": 50',
    ),
    (
        "wrong number of profile shares",
        _staging(profiles={"geocoder": {"rollout": {"shares": [50, 100]}}}),
        "rollout",
        "templates/values/staging.json",
        "/profiles/geocoder/rollout/shares",
        "2 shares for 3 steps",
        '"shares"',
    ),
    (
        "unknown gate key in the policy",
        _common("min_sample: 10", "min_samples: 10"),
        "values-schema",
        "templates/values/common.yaml",
        "/defaults/rollout/gate/min_samples",
        "unexpected key 'min_samples'",
        "min_samples: 10",
    ),
    (
        # The payload's schema catches it, in the template that rendered the payload.
        "unknown gate key in a profile override",
        _staging(profiles={"geocoder": {"rollout": {"gate": {"max_failures": 0.1}}}}),
        "schema",
        "templates/profiles/geocoder.yaml.j2",
        "/rollout/gate/max_failures",
        "unexpected key 'max_failures'",
        None,
    ),
    (
        "share 0",
        _common("{share: 5,", "{share: 0,"),
        "values-schema",
        "templates/values/common.yaml",
        "/defaults/rollout/steps/0/share",
        "0 is less than or equal to the minimum of 0",
        "{share: 0,",
    ),
    (
        "a rate above 1",
        _common("max_failure_rate: 0.05", "max_failure_rate: 1.5"),
        "values-schema",
        "templates/values/common.yaml",
        "/defaults/rollout/gate/max_failure_rate",
        "1.5 is greater than the maximum of 1",
        "max_failure_rate: 1.5",
    ),
]


@pytest.mark.parametrize(
    ("files", "code", "file", "pointer", "message", "holding"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_a_broken_policy_is_an_issue_naming_file_and_pointer(
    make_project: MakeProject,
    files: dict[str, str],
    code: str,
    file: str,
    pointer: str,
    message: str,
    holding: str | None,
) -> None:
    root = _project(make_project, files)
    [issue] = _issues(root)
    assert (issue.code, issue.file, issue.pointer) == (code, file, pointer)
    assert message in issue.message
    line = None if holding is None else _line((root / file).read_text(), holding)
    assert issue.line == line
