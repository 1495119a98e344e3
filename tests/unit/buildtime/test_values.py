"""Values in YAML, JSON and TOML, deep merge, and typed env substitution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from buildtime.build import Builder
from buildtime.envsubst import EnvError, lookup, substitute_string
from buildtime.project import Project
from buildtime.values import load_values

MakeProject = Callable[..., Path]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("templates/values/dev.yaml", "vars:\n  mode: m\n  n: 3\n  flags: [a, b]\n"),
        ("templates/values/dev.json", '{"vars": {"mode": "m", "n": 3, "flags": ["a", "b"]}}'),
        ("templates/values/dev.toml", '[vars]\nmode = "m"\nn = 3\nflags = ["a", "b"]\n'),
    ],
)
def test_each_format_loads_the_same_values(make_project: MakeProject, path: str, text: str) -> None:
    root = make_project({"templates/values/dev.yaml": None, path: text})
    builder = Builder(Project.load(root), environ={})
    values, issues = load_values(builder.project, "dev", builder.schemas, {})
    assert issues == []
    assert values.files == ("templates/values/common.yaml", path)
    # common.yaml's log_level survives the merge; lists from the env file replace.
    assert values.vars == {
        "log_level": "info",
        "tracing": None,
        "regions": ["eu"],
        "mode": "m",
        "n": 3,
        "flags": ["a", "b"],
    }


def test_two_files_for_one_env_is_an_error(make_project: MakeProject) -> None:
    root = make_project({"templates/values/dev.json": '{"vars": {"mode": "x"}}'})
    builder = Builder(Project.load(root), environ={})
    _, issues = load_values(builder.project, "dev", builder.schemas, {})
    assert [i.code for i in issues] == ["values-ambiguous"]


@pytest.mark.parametrize(
    ("path", "text", "line"),
    [
        (
            "templates/values/dev.yaml",
            'vars:\n  mode: m\n  n: \'${env("N_REPLICAS", type="int")}\'\n',
            3,
        ),
        (
            "templates/values/dev.json",
            '{"vars": {\n  "mode": "m",\n  "n": "${env(\'N_REPLICAS\', type=\'int\')}"\n}}',
            3,
        ),
        (
            "templates/values/dev.toml",
            '[vars]\nmode = "m"\nn = \'${env("N_REPLICAS", type="int")}\'\n',
            None,
        ),
    ],
)
def test_env_substitution_in_every_format(
    make_project: MakeProject, path: str, text: str, line: int | None
) -> None:
    root = make_project({"templates/values/dev.yaml": None, path: text})
    builder = Builder(Project.load(root), environ={})
    values, issues = load_values(builder.project, "dev", builder.schemas, {"N_REPLICAS": "7"})
    assert issues == []
    assert values.vars["n"] == 7  # typed, not "7"

    _, issues = load_values(builder.project, "dev", builder.schemas, {})
    assert [(i.code, i.file, i.pointer, i.line) for i in issues] == [
        ("env-missing", path, "/vars/n", line)
    ]
    assert "N_REPLICAS" in issues[0].message
    assert path in issues[0].message

    _, issues = load_values(builder.project, "dev", builder.schemas, {"N_REPLICAS": "many"})
    assert [i.code for i in issues] == ["env-type"]
    assert "N_REPLICAS" in issues[0].message
    assert "int" in issues[0].message
    assert path in issues[0].message


def test_env_default_applies_when_unset() -> None:
    assert lookup("X", "int", 3, environ={}) == 3
    assert lookup("X", "int", 3, environ={"X": "4"}) == 4
    assert lookup("X", "bool", False, environ={"X": "yes"}) is True
    assert lookup("X", "list", environ={"X": "a, b,"}) == ["a", "b"]
    assert lookup("X", "json", environ={"X": '{"a": 1}'}) == {"a": 1}
    assert lookup("X", "str", None, environ={}) is None


def test_env_errors() -> None:
    with pytest.raises(EnvError, match="required environment variable X is not set") as missing:
        lookup("X", "int", environ={})
    assert missing.value.code == "env-missing"
    with pytest.raises(EnvError, match=r"X='1\.5' is not a valid int") as wrong:
        lookup("X", "int", environ={"X": "1.5"})
    assert wrong.value.code == "env-type"
    with pytest.raises(EnvError, match="default 'three' is not a int"):
        lookup("X", "int", "three", environ={})
    with pytest.raises(EnvError, match="unknown type"):
        lookup("X", "decimal", environ={"X": "1"})


def test_substitute_string_types_and_interpolation() -> None:
    env = {"HOST": "db", "PORT": "5432"}
    assert substitute_string('${env("PORT", type="int")}', env) == 5432
    assert substitute_string("postgres://${env('HOST')}:${env('PORT', type='int')}/x", env) == (
        "postgres://db:5432/x"
    )
    assert substitute_string("no substitution", env) == "no substitution"
    with pytest.raises(EnvError, match="arguments must be literals"):
        substitute_string("${env(HOST)}", env)
    with pytest.raises(EnvError, match="not an env"):
        substitute_string("${os.system('x')}", env)


def test_env_in_templates_is_typed_and_errors_name_the_template(make_project: MakeProject) -> None:
    child = (
        '{% extends "profiles/_base.yaml.j2" %}\n{% block settings %}\n'
        '  port: {{ env("GAMMA_PORT", type="int", default=8080) }}\n'
        '  token_ttl: {{ env("GAMMA_TTL", type="int") }}\n{% endblock %}\n'
    )
    root = make_project({"templates/profiles/gamma.yaml.j2": child})
    builder = Builder(Project.load(root), environ={"GAMMA_TTL": "60"})
    built = builder.build_env("dev")
    assert built.issues == []
    assert built.profiles["gamma"]["config"]["port"] == 8080
    assert built.profiles["gamma"]["config"]["token_ttl"] == 60

    built = Builder(Project.load(root), environ={}).build_env("dev")
    [issue] = built.issues
    assert (issue.code, issue.file, issue.line) == (
        "env-missing",
        "templates/profiles/gamma.yaml.j2",
        4,
    )
    assert "GAMMA_TTL" in issue.message
