"""Git metadata, history, diff of refs, promote and --env auto, on a repository made by the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from buildtime.cli import main
from buildtime.gitmeta import metadata
from buildtime.history import history
from buildtime.project import Project
from buildtime.sources import build_ref
from service.bundle import load_bundle

Git = Callable[..., str]


def _edit_beta(root: Path, git: Git, description: str, message: str) -> str:
    path = root / "templates/profiles/beta.yaml.j2"
    text = path.read_text().split("{% block description %}")[0]
    path.write_text(text + f'{{% block description %}}"{description}"{{% endblock %}}\n')
    git(root, "commit", "-q", "-am", message)
    return git(root, "rev-parse", "HEAD")


def test_metadata_commit_branch_tag_dirty(git_project: Path, git: Git) -> None:
    head = git(git_project, "rev-parse", "HEAD")
    info = metadata(git_project, ("templates", "schemas"), environ={})
    assert info == {"commit": head, "tag": None, "branch": "main", "dirty": False}

    git(git_project, "tag", "config-1")
    (git_project / "templates/values/dev.yaml").write_text(
        "environment: dev\nvars:\n  mode: edited\n"
    )
    (git_project / "NOTES.md").write_text("outside the inputs: not dirty")
    info = metadata(git_project, ("templates", "schemas"), environ={})
    assert info["tag"] == "config-1"
    assert info["dirty"] is True


def test_metadata_env_overrides_without_git(tmp_path: Path) -> None:
    info = metadata(
        tmp_path,
        ("templates",),
        environ={"REGISTRY_GIT_COMMIT": "c" * 40, "REGISTRY_GIT_DIRTY": "false"},
    )
    assert info == {"commit": "c" * 40, "tag": None, "branch": None, "dirty": False}


def test_build_records_git_metadata(git_project: Path, git: Git, tmp_path: Path) -> None:
    assert (
        main(
            [
                "build",
                "--root",
                str(git_project),
                "--env",
                "dev",
                "--out",
                str(tmp_path / "b"),
                "--no-cache",
            ]
        )
        == 0
    )
    manifest = load_bundle(tmp_path / "b").manifest
    assert manifest["git"]["commit"] == git(git_project, "rev-parse", "HEAD")
    assert manifest["git"]["branch"] == "main"
    assert manifest["environment"] == "dev"
    assert manifest["schema_versions"]["profile"] == "1"


def test_history_lists_commits_with_versions(git_project: Path, git: Git) -> None:
    project = Project.load(git_project)
    first = git(git_project, "rev-parse", "HEAD")
    second = _edit_beta(git_project, git, "beta v2", "describe beta")
    (git_project / "README").write_text("unrelated")
    git(git_project, "add", "README")
    git(git_project, "commit", "-q", "-m", "docs only")

    entries = history(project, "beta", "dev", {}, limit=10)
    assert [e.commit for e in entries] == [second, first]  # the docs commit is not an input
    assert entries[0].subject == "describe beta"
    assert entries[0].version != entries[1].version
    assert entries[0].version == build_ref(project, second, "dev", {}).version
    assert entries[0].profile_digest != entries[1].profile_digest

    alpha = history(project, "alpha", "dev", {}, limit=10)
    assert [e.commit for e in alpha] == [first]  # beta's template does not feed alpha


def test_history_cli_json(git_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "alpha", "--root", str(git_project), "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["subject"] == "initial config"
    assert entry["version"].startswith("sha256:")


def test_diff_of_two_refs(git_project: Path, git: Git, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(git_project, "rev-parse", "HEAD")
    _edit_beta(git_project, git, "beta v2", "describe beta")
    code = main(
        ["diff", first, "HEAD", "--root", str(git_project), "--format", "json", "--exit-code"]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    [profile] = report["profiles"]
    assert profile["profile"] == "beta"
    assert profile["changed"] == ["/description"]
    assert profile["major"] is False

    assert main(["diff", "HEAD", ".", "--root", str(git_project), "--exit-code"]) == 0
    assert "no semantic changes" in capsys.readouterr().out


def test_diff_reports_major_change(
    git_project: Path, git: Git, capsys: pytest.CaptureFixture[str]
) -> None:
    path = git_project / "templates/values/dev.yaml"
    path.write_text("environment: dev\nvars:\n  mode: turbo\n")
    git(git_project, "commit", "-q", "-am", "turbo mode")
    assert main(["diff", "HEAD~1", "HEAD", "--root", str(git_project)]) == 0
    out = capsys.readouterr().out
    assert '~ /config/mode: "dev" -> "turbo"  [major]' in out
    assert "MAJOR" in out


def test_promote_diffs_against_the_target_branch(
    git_project: Path, git: Git, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    git(git_project, "branch", "prod")  # what prod runs now
    git(git_project, "checkout", "-q", "-b", "staging")
    _edit_beta(git_project, git, "beta v2", "describe beta")
    code = main(
        [
            "promote",
            "--from",
            "staging",
            "--to",
            "prod",
            "--root",
            str(git_project),
            "--format",
            "json",
            "--out",
            str(tmp_path / "promoted"),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ref"] == "staging"
    assert report["commit"] == git(git_project, "rev-parse", "staging")
    assert [p["profile"] for p in report["profiles"]] == ["beta"]
    promoted = load_bundle(tmp_path / "promoted")
    assert promoted.environment == "prod"
    assert promoted.version == report["version"]


def test_promote_fails_listing_errors_when_target_is_invalid(
    git_project: Path, git: Git, capsys: pytest.CaptureFixture[str]
) -> None:
    (git_project / "templates/values/prod.toml").write_text('environment = "prod"\n[vars]\n')
    git(git_project, "commit", "-q", "-am", "prod loses mode")
    assert main(["promote", "--from", "staging", "--to", "prod", "--root", str(git_project)]) == 1
    err = capsys.readouterr().err
    assert "'mode' is undefined" in err
    assert "(prod)" in err


def test_env_auto_maps_the_branch(git_project: Path, git: Git, tmp_path: Path) -> None:
    git(git_project, "checkout", "-q", "-b", "staging")
    assert (
        main(
            [
                "build",
                "--root",
                str(git_project),
                "--env",
                "auto",
                "--out",
                str(tmp_path / "b"),
                "--no-cache",
            ]
        )
        == 0
    )
    assert load_bundle(tmp_path / "b").environment == "staging"
    git(git_project, "checkout", "-q", "-b", "feature/x")
    assert (
        main(
            [
                "build",
                "--root",
                str(git_project),
                "--env",
                "auto",
                "--out",
                str(tmp_path / "b"),
                "--no-cache",
            ]
        )
        == 0
    )
    assert load_bundle(tmp_path / "b").environment == "dev"
