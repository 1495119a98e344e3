"""The registry-build CLI: exit codes, text and JSON reports, python -m buildtime."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from buildtime.cli import main
from service.bundle import load_bundle

MakeProject = Callable[..., Path]
BROKEN = '{% extends "profiles/_base.yaml.j2" %}\n' + (
    "{% block settings %}\n  x: {{ nope }}\n{% endblock %}\n"
)


def test_validate_all_envs_passes_on_shipped_templates(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--all-envs", "--root", str(repo_root), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == ["ok dev", "ok staging", "ok prod"]


def test_validate_lists_every_error_as_text(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(
        {
            "templates/profiles/g1.yaml.j2": BROKEN,
            "templates/values/dev.yaml": "environment: dev\nvars:\n  mode: dev\nextra: 1\n",
        }
    )
    assert main(["validate", "--root", str(root), "--env", "dev", "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "templates/values/dev.yaml:4#/extra: error [values-schema] unexpected key 'extra'" in err
    assert "hint:" in err
    # Values errors stop rendering for that env; another env still shows template errors.
    assert main(["validate", "--root", str(root), "--env", "staging", "--no-cache"]) == 1
    assert "templates/profiles/g1.yaml.j2:3: error [undefined]" in capsys.readouterr().err


def test_validate_json_report(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(
        {
            "templates/profiles/g1.yaml.j2": BROKEN,
            "templates/profiles/g2.yaml.j2": BROKEN.replace("nope", "nada"),
        }
    )
    assert (
        main(["validate", "--root", str(root), "--all-envs", "--format", "json", "--no-cache"]) == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["environments"] == ["dev", "staging", "prod"]
    assert {(e["file"], e["line"], e["code"]) for e in report["errors"]} == {
        ("templates/profiles/g1.yaml.j2", 3, "undefined"),
        ("templates/profiles/g2.yaml.j2", 3, "undefined"),
    }
    assert all(e["hint"] and e["envs"] == ["dev", "staging", "prod"] for e in report["errors"])


def test_build_writes_and_prints_the_version(
    make_project: MakeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    args = [
        "build",
        "--root",
        str(make_project()),
        "--env",
        "prod",
        "--out",
        str(out),
        "--no-cache",
    ]
    assert main([*args, "--quiet"]) == 0
    version = capsys.readouterr().out.strip()
    assert version == load_bundle(out).version
    assert main([*args, "--expect-version", version]) == 0
    assert main([*args, "--expect-version", "sha256:" + "0" * 64]) == 1


def test_build_fails_without_writing_on_errors(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project({"templates/profiles/g1.yaml.j2": BROKEN})
    assert (
        main(
            [
                "build",
                "--root",
                str(root),
                "--env",
                "dev",
                "--out",
                str(tmp_path / "b"),
                "--no-cache",
            ]
        )
        == 1
    )
    assert not (tmp_path / "b").exists()


def test_usage_errors_exit_2(make_project: MakeProject, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project()
    assert main(["validate", "--root", str(root), "--env", "qa"]) == 2
    assert "unknown environment 'qa'" in capsys.readouterr().err
    assert main(["diff", "nope-ref", ".", "--root", str(root)]) == 2


def test_compiled_template_cache_gives_the_same_bundle(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project()
    for run in ("cold", "warm"):
        assert (
            main(
                [
                    "build",
                    "--root",
                    str(root),
                    "--env",
                    "dev",
                    "--out",
                    str(tmp_path / run),
                    "--cache-dir",
                    str(tmp_path / "cache"),
                ]
            )
            == 0
        )
    assert any((tmp_path / "cache").iterdir())
    assert load_bundle(tmp_path / "cold").files == load_bundle(tmp_path / "warm").files


def test_parallel_render_matches_serial(make_project: MakeProject) -> None:
    from buildtime.build import Builder
    from buildtime.project import Project

    children = {
        f"templates/profiles/p{i:03d}.yaml.j2": '{% extends "profiles/_base.yaml.j2" %}\n'
        for i in range(120)
    }
    project = Project.load(make_project(children))
    serial = Builder(project, environ={}, jobs=1).build_envs(project.environments)
    parallel = Builder(project, environ={}, jobs=2).build_envs(project.environments)
    for env in project.environments:
        assert parallel[env].profiles == serial[env].profiles
        assert len(serial[env].profiles) == 122


def test_python_dash_m_runs_the_cli(repo_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "buildtime", "--help"],
        capture_output=True,
        text=True,
        cwd=repo_root,
        check=False,
    )
    assert done.returncode == 0
    assert all(cmd in done.stdout for cmd in ("build", "validate", "diff", "history", "promote"))


def test_diff_accepts_environment_names_without_git(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project()  # not a git repository: no ref named prod can exist
    assert main(["diff", "prod", ".", "--root", str(root), "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "work tree (prod)" in out and "work tree (dev)" in out


def test_diff_error_names_what_it_expected(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project()
    assert main(["diff", "qa", ".", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "'qa' is not a bundle directory" in err
    assert "an environment (dev, staging, prod)" in err
    assert "git ref" in err


def test_diff_into_a_closed_pipe_exits_quietly(make_project: MakeProject) -> None:
    """``registry-build diff ... | head`` must not end with a BrokenPipeError traceback."""
    import os

    root = make_project()
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write: every write gets EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "buildtime", "diff", "dev", "prod", "--root", str(root)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.returncode == 0
