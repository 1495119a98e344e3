"""Every error kind names its file and a line or JSON pointer, and all errors are collected."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from buildtime.build import Builder
from buildtime.issues import Issue
from buildtime.project import Project

EXTENDS = '{% extends "profiles/_base.yaml.j2" %}\n'


def _settings(body: str, block: str = "settings") -> str:
    """A child template overriding one block of the base."""
    return f"{EXTENDS}{{% block {block} %}}\n{body}{{% endblock %}}\n"


MakeProject = Callable[..., Path]


def _issues(root: object, env: str = "dev", environ: dict[str, str] | None = None) -> list[Issue]:
    project = Project.load(root)  # type: ignore[arg-type]
    issues, _ = Builder(project, environ=environ or {}).validate([env])
    return list(issues)


def _one(issues: list[Issue], code: str) -> Issue:
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, issues
    return found[0]


def test_undefined_variable_names_template_and_line(make_project: MakeProject) -> None:
    child = _settings("  x: {{ nope }}\n")
    issue = _one(_issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "undefined")
    assert issue.file == "templates/profiles/gamma.yaml.j2"
    assert issue.line == 3
    assert "'nope' is undefined" in issue.message
    assert issue.hint


def test_undefined_in_an_include_names_the_included_file(make_project: MakeProject) -> None:
    partial = "logging:\n  level: {{ log_level }}\n  extra: {{ missing_var }}\n"
    issues = _issues(make_project({"templates/profiles/_partials/common.yaml.j2": partial}))
    undefined = [i for i in issues if i.code == "undefined"]
    assert {i.file for i in undefined} == {"templates/profiles/_partials/common.yaml.j2"}
    assert {i.line for i in undefined} == {3}


def test_template_syntax_error_has_file_and_line(make_project: MakeProject) -> None:
    child = (
        '{% extends "profiles/_base.yaml.j2" %}\n\n{% block settings %}\n{% if %}\n{% endblock %}\n'
    )
    issue = _one(
        _issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "template-syntax"
    )
    assert (issue.file, issue.line) == ("templates/profiles/gamma.yaml.j2", 4)


def test_missing_parent_template(make_project: MakeProject) -> None:
    child = '{% extends "profiles/_nope.yaml.j2" %}\n'
    issue = _one(
        _issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "template-not-found"
    )
    assert issue.file == "templates/profiles/gamma.yaml.j2"
    assert issue.line == 1


def test_rendered_yaml_error_names_template(make_project: MakeProject) -> None:
    child = _settings("  bad: [unclosed\n")
    issue = _one(_issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "yaml-syntax")
    assert issue.file == "templates/profiles/gamma.yaml.j2"
    assert "rendered output" in issue.message


def test_schema_error_has_pointer_and_hint(make_project: MakeProject) -> None:
    child = _settings('  heartbeat_interval: "fast"\n  bogus: 1\n', "thresholds")
    issues = [
        i
        for i in _issues(make_project({"templates/profiles/gamma.yaml.j2": child}))
        if i.code == "schema"
    ]
    pointers = {i.pointer for i in issues}
    assert "/thresholds/heartbeat_interval" in pointers
    assert "/thresholds/bogus" in pointers  # additionalProperties names the key
    assert all(i.file == "templates/profiles/gamma.yaml.j2" and i.hint for i in issues)


def test_values_syntax_errors_have_lines_in_each_format(make_project: MakeProject) -> None:
    cases = {
        "dev": ("templates/values/dev.yaml", "environment: dev\nvars:\n  a: [1, 2\n", 4),
        "staging": ("templates/values/staging.json", '{\n  "vars": {\n    "a": 1,\n  }\n}\n', 4),
        "prod": ("templates/values/prod.toml", "[vars]\na = 1\nb = = 2\n", 3),
    }
    for env, (path, text, line) in cases.items():
        issue = _one(_issues(make_project({path: text}), env), "values-syntax")
        assert issue.file == path
        assert issue.line == line, (env, issue)


def test_values_schema_error_points_at_key_and_line(make_project: MakeProject) -> None:
    text = "environment: dev\nvars:\n  mode: dev\nunknown_key: 1\n"
    issue = _one(_issues(make_project({"templates/values/dev.yaml": text})), "values-schema")
    assert (issue.file, issue.pointer, issue.line) == (
        "templates/values/dev.yaml",
        "/unknown_key",
        4,
    )
    text = "environment: dev\ndefaults:\n  thresholds:\n    retention: -5\nvars:\n  mode: dev\n"
    issue = _one(_issues(make_project({"templates/values/dev.yaml": text})), "values-schema")
    assert issue.pointer == "/defaults/thresholds/retention"
    assert issue.line == 4


def test_all_errors_are_reported_not_just_the_first(make_project: MakeProject) -> None:
    bad_child = _settings("  x: {{ a1 }}\n")
    root = make_project(
        {
            "templates/profiles/g1.yaml.j2": bad_child,
            "templates/profiles/g2.yaml.j2": bad_child.replace("a1", "a2"),
            "templates/profiles/g3.yaml.j2": '{% extends "profiles/_base.yaml.j2" %}\n'
            '{% block dependencies %}\n{{ m.dependency("nowhere", "^1") }}\n{% endblock %}\n',
        }
    )
    issues = _issues(root)
    assert {(i.file, i.code) for i in issues} >= {
        ("templates/profiles/g1.yaml.j2", "undefined"),
        ("templates/profiles/g2.yaml.j2", "undefined"),
        ("templates/profiles/g3.yaml.j2", "dep-missing-capability"),
    }


def test_same_error_in_several_envs_is_reported_once_with_envs(make_project: MakeProject) -> None:
    child = _settings("  x: {{ nope }}\n")
    project = Project.load(make_project({"templates/profiles/gamma.yaml.j2": child}))
    issues, _ = Builder(project, environ={}).validate(project.environments)
    undefined = [i for i in issues if i.code == "undefined"]
    assert len(undefined) == 1
    assert undefined[0].envs == ("dev", "staging", "prod")


def test_inline_secret_is_rejected(make_project: MakeProject) -> None:
    child = _settings('  api_key: "sk-123"\n')
    issue = _one(
        _issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "secret-inline"
    )
    assert issue.pointer == "/config/api_key"
    assert "secrets" in (issue.hint or "")


def test_thresholds_order_and_unknown_major_key(make_project: MakeProject) -> None:
    child = (
        '{% extends "profiles/_base.yaml.j2" %}\n{% block thresholds %}\n'
        "  heartbeat_interval: 10\n  degraded_after: 5\n{% endblock %}\n"
        "{% block major_keys %}\n  - /config/typo\n{% endblock %}\n"
    )
    issues = _issues(make_project({"templates/profiles/gamma.yaml.j2": child}))
    assert _one(issues, "thresholds").pointer == "/thresholds/degraded_after"
    assert _one(issues, "major-key").pointer == "/major_keys/0"


def test_rendered_yaml_error_names_the_template_line_that_wrote_it(
    make_project: MakeProject,
) -> None:
    partial = "extra_ok: 1\nextra_bad: {{ mode | json }}: oops\n"
    child = _settings('{% include "profiles/_partials/extra.yaml.j2" %}\n')
    root = make_project(
        {
            "templates/profiles/_partials/extra.yaml.j2": partial,
            "templates/profiles/gamma.yaml.j2": child,
        }
    )
    issue = _one(_issues(root), "yaml-syntax")
    # Not only "line N of the rendered output": the partial and its line.
    assert (issue.file, issue.line) == ("templates/profiles/_partials/extra.yaml.j2", 2)
    assert "rendered output of templates/profiles/gamma.yaml.j2" in issue.message
    assert "written by templates/profiles/_partials/extra.yaml.j2 line 2" in issue.message


def test_unclosed_flow_sequence_points_at_the_line_that_opened_it(
    make_project: MakeProject,
) -> None:
    child = _settings("  bad: [unclosed\n")
    issue = _one(_issues(make_project({"templates/profiles/gamma.yaml.j2": child})), "yaml-syntax")
    assert issue.file == "templates/profiles/gamma.yaml.j2"
    assert issue.line == child.splitlines().index("  bad: [unclosed") + 1


def test_bad_defaults_thresholds_in_values_are_an_issue_not_a_traceback(
    make_project: MakeProject,
) -> None:
    dev = (
        "environment: dev\ndefaults:\n  thresholds:\n    heartbeat_interval: 5\n"
        "    degraded_after: 5\nvars:\n  mode: dev\n"
    )
    [issue] = _issues(make_project({"templates/values/dev.yaml": dev}))
    assert (issue.code, issue.file, issue.line, issue.pointer) == (
        "thresholds",
        "templates/values/dev.yaml",
        5,
        "/defaults/thresholds/degraded_after",
    )
    assert "degraded_after (5) must exceed heartbeat_interval (5)" in issue.message


def test_bad_defaults_thresholds_in_toml_values_name_the_file(make_project: MakeProject) -> None:
    prod = (
        'environment = "prod"\n[vars]\nmode = "prod"\nregions = ["eu"]\n'
        "[defaults.thresholds]\nexpire_after = 10\n"
    )
    [issue] = _issues(make_project({"templates/values/prod.toml": prod}), "prod")
    assert (issue.code, issue.file, issue.pointer) == (
        "thresholds",
        "templates/values/prod.toml",
        "/defaults/thresholds/expire_after",
    )


def _drop_rollout_schema(root: Path, *, keep_refs: bool) -> None:
    """Delete ``rollout.schema.json`` and, unless ``keep_refs``, every reference to it."""
    (root / "schemas/rollout.schema.json").unlink()
    if keep_refs:
        return
    for name, where in (
        ("values", ("properties", "defaults", "properties")),
        ("manifest", ("properties", "defaults", "properties")),
        ("profile", ("properties",)),
    ):
        path = root / f"schemas/{name}.schema.json"
        doc = json.loads(path.read_text())
        node = doc
        for key in where:
            node = node[key]
        del node["rollout"]
        path.write_text(json.dumps(doc))


def test_inputs_from_before_rollout_policies_still_build(make_project: MakeProject) -> None:
    # diff, promote and history build old commits with today's code: their schemas have no
    # rollout.schema.json, and nothing refers to it.
    root = make_project()  # the mini project: no policy in its values
    _drop_rollout_schema(root, keep_refs=False)
    assert _issues(root, "prod") == []
    git = {"commit": None, "tag": None, "branch": None, "dirty": None}
    bundle = Builder(Project.load(root), environ={}).assemble("prod", git)
    assert "rollout" not in bundle.manifest["schema_versions"]
    assert bundle.rollout_policy is None


def test_a_referenced_schema_that_is_missing_is_an_issue(make_project: MakeProject) -> None:
    root = make_project()
    _drop_rollout_schema(root, keep_refs=True)
    issues = _issues(root, "prod")
    assert {(i.code, i.file) for i in issues} == {("schema-missing", "schemas/rollout.schema.json")}
    assert "referenced by schemas/manifest.schema.json" in issues[0].message
