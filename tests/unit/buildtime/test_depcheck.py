"""Dependency validation: unknown capabilities, unsatisfiable versions, cycles, conditionals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from buildtime.build import Builder
from buildtime.issues import Issue
from buildtime.project import Project
from service.domain.constraints import ConstraintError, parse_constraint, version_matches

MakeProject = Callable[..., Path]


def _issues(root: Path) -> list[Issue]:
    return Builder(Project.load(root), environ={}).build_env("dev").issues


def _child(deps: str, caps: str = "") -> str:
    return (
        '{% extends "profiles/_base.yaml.j2" %}\n'
        f"{{% block capabilities %}}\n{caps or '  []'}\n{{% endblock %}}\n"
        f"{{% block dependencies %}}\n{deps}\n{{% endblock %}}\n"
    )


def test_missing_capability(make_project: MakeProject) -> None:
    root = make_project(
        {"templates/profiles/gamma.yaml.j2": _child('{{ m.dependency("betta", "^2") }}')}
    )
    [issue] = _issues(root)
    assert issue.code == "dep-missing-capability"
    assert (issue.file, issue.pointer) == (
        "templates/profiles/gamma.yaml.j2",
        "/dependencies/0/capability",
    )
    assert "betta" in issue.message
    assert "beta" in (issue.hint or "")


def test_unsatisfiable_version(make_project: MakeProject) -> None:
    root = make_project(
        {"templates/profiles/gamma.yaml.j2": _child('{{ m.dependency("beta", "^3.0") }}')}
    )
    [issue] = _issues(root)
    assert issue.code == "dep-unsatisfiable"
    assert issue.pointer == "/dependencies/0/version"
    assert "2.0.0, 2.1.0" in issue.message


def test_unparseable_constraint(make_project: MakeProject) -> None:
    root = make_project(
        {"templates/profiles/gamma.yaml.j2": _child('{{ m.dependency("beta", "about two") }}')}
    )
    [issue] = _issues(root)
    assert issue.code == "dep-bad-constraint"


def test_required_cycle_is_reported_once_with_its_path(make_project: MakeProject) -> None:
    # alpha requires beta; make beta require alpha.
    beta = _child('{{ m.dependency("alpha", "^1.0") }}', '{{ m.capability("beta", "2.1.0") }}')
    [issue] = _issues(make_project({"templates/profiles/beta.yaml.j2": beta}))
    assert issue.code == "dep-cycle"
    assert "alpha -> beta -> alpha" in issue.message or "beta -> alpha -> beta" in issue.message
    assert issue.file.startswith("templates/profiles/")


def test_optional_dependency_breaks_a_cycle(make_project: MakeProject) -> None:
    beta = _child(
        '{{ m.dependency("alpha", "^1.0", required=false) }}', '{{ m.capability("beta", "2.1.0") }}'
    )
    assert _issues(make_project({"templates/profiles/beta.yaml.j2": beta})) == []


def test_provided_version_must_be_in_catalog(make_project: MakeProject) -> None:
    beta = _child("  []", '{{ m.capability("beta", "2.2.0") }}')
    [issue] = _issues(make_project({"templates/profiles/beta.yaml.j2": beta}))
    assert (issue.code, issue.pointer) == ("capability-version", "/capabilities/0/version")


def test_conditional_settings_need_what_they_require(make_project: MakeProject) -> None:
    catalog = (
        "capabilities:\n"
        "  - {name: alpha, versions: ['1.2.0'], description: a,\n"
        "     requires_config: [/config/alpha_url]}\n"
        "  - {name: beta, versions: ['2.0.0', '2.1.0'], description: b}\n"
        "rules:\n"
        "  - when: /config/logging/level\n"
        "    require: [/config/logging/sink]\n"
        "    require_dependency: [beta]\n"
    )
    issues = _issues(make_project({"templates/catalog.yaml.j2": catalog}))
    found = {(i.file, i.pointer) for i in issues if i.code == "conditional"}
    assert ("templates/profiles/alpha.yaml.j2", "/config/alpha_url") in found
    assert ("templates/profiles/alpha.yaml.j2", "/config/logging/sink") in found
    assert ("templates/profiles/beta.yaml.j2", "/dependencies") in found  # beta lacks beta dep
    assert ("templates/profiles/alpha.yaml.j2", "/dependencies") not in found  # alpha has it


@pytest.mark.parametrize(
    ("constraint", "yes", "no"),
    [
        ("^1.2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0"]),
        ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
        (">=1.2,<2", ["1.2.0", "1.99.0"], ["2.0.0", "1.1.0"]),
        (">=1.2 <2", ["1.5.0"], ["2.0.0"]),
        ("1.x", ["1.0.0", "1.5.2"], ["2.0.0"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("*", ["0.0.1", "9.0.0"], []),
        ("^1 || ^3", ["1.0.0", "3.1.0"], ["2.0.0"]),
    ],
)
def test_constraints(constraint: str, yes: list[str], no: list[str]) -> None:
    parsed = parse_constraint(constraint)
    assert all(version_matches(v, parsed) for v in yes)
    assert not any(version_matches(v, parsed) for v in no)


def test_bad_constraint_raises() -> None:
    with pytest.raises(ConstraintError):
        parse_constraint("bananas")
