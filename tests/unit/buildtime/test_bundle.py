"""The bundle format: determinism, verification and tamper detection, thresholds."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from buildtime.build import Builder
from buildtime.project import Project
from service.bundle import (
    DEFAULT_THRESHOLDS,
    BundleError,
    Thresholds,
    bundle_from_files,
    canonical_json,
    load_bundle,
    write_bundle,
)

MakeProject = Callable[..., Path]
GIT = {"commit": None, "tag": None, "branch": None, "dirty": None}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _write(root: Path, out: Path, env: str = "dev") -> str:
    return Builder(Project.load(root), environ={}).write(env, out, GIT).version


def test_two_builds_are_byte_identical(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project()
    v1 = _write(root, tmp_path / "b1")
    v2 = _write(root, tmp_path / "b2")
    assert v1 == v2
    assert v1.startswith("sha256:")
    assert len(v1) == 71
    assert _files(tmp_path / "b1") == _files(tmp_path / "b2")
    assert sorted(_files(tmp_path / "b1")) == [
        "catalog.json",
        "manifest.json",
        "profiles/alpha.json",
        "profiles/beta.json",
    ]


def test_a_copied_project_builds_the_same_version(
    make_project: MakeProject, tmp_path: Path
) -> None:
    # Another checkout location (another machine) must not change the bytes.
    assert _write(make_project(), tmp_path / "a") == _write(make_project(), tmp_path / "b")


def test_changing_one_template_changes_only_its_payload(
    make_project: MakeProject, tmp_path: Path
) -> None:
    before = make_project()
    after = make_project(
        {
            "templates/profiles/beta.yaml.j2": (before / "templates/profiles/beta.yaml.j2")
            .read_text()
            .replace(
                "{% endblock %}",
                '{% endblock %}\n{% block description %}"changed"{% endblock %}',
                1,
            )
        }
    )
    v1, v2 = _write(before, tmp_path / "b1"), _write(after, tmp_path / "b2")
    f1, f2 = _files(tmp_path / "b1"), _files(tmp_path / "b2")
    assert v1 != v2
    assert {name for name in f1 if f1[name] != f2[name]} == {"profiles/beta.json", "manifest.json"}


def test_git_and_build_stamp_do_not_change_the_version(
    make_project: MakeProject, tmp_path: Path
) -> None:
    builder = Builder(Project.load(make_project()), environ={})
    plain = builder.write("dev", tmp_path / "a", GIT)
    stamped = builder.write("dev", tmp_path / "b", {**GIT, "commit": "a" * 40}, stamp=True)
    assert plain.version == stamped.version
    assert "build" in stamped.manifest
    assert "host" in stamped.manifest["build"]
    assert load_bundle(tmp_path / "b").version == plain.version


def test_load_bundle_round_trip_and_thresholds(make_project: MakeProject, tmp_path: Path) -> None:
    written = Builder(Project.load(make_project()), environ={}).write("dev", tmp_path / "b", GIT)
    loaded = load_bundle(tmp_path / "b")
    assert loaded.version == written.version
    assert loaded.profiles == written.profiles
    assert loaded.to_canonical_files() == _files(tmp_path / "b")
    assert loaded.thresholds("alpha") == Thresholds(2.0, 4.0, 20.0, 300.0)
    assert loaded.thresholds("beta") == DEFAULT_THRESHOLDS
    assert loaded.thresholds("nope") is None
    assert loaded.major_keys("alpha") == ("/config/mode",)
    assert loaded.manifest["defaults"]["thresholds"]["expire_after"] == 20.0
    assert bundle_from_files(loaded.to_canonical_files()).version == loaded.version


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    write_bundle(
        out,
        profiles={
            "alpha": {"profile": "alpha", "thresholds": {"expire_after": 60.0}, "major_keys": []}
        },
        catalog={"capabilities": []},
        environment="dev",
        git=GIT,
        schema_versions={"profile": "1"},
        defaults=DEFAULT_THRESHOLDS,
    )
    return out


def test_tampered_payload_is_named(bundle_dir: Path) -> None:
    path = bundle_dir / "profiles/alpha.json"
    path.write_bytes(path.read_bytes().replace(b"60.0", b"61.0"))
    with pytest.raises(
        BundleError, match=r"profiles/alpha\.json does not match manifest\.json"
    ) as err:
        load_bundle(bundle_dir)
    assert err.value.files == ("profiles/alpha.json",)


def test_missing_and_extra_files_are_named(bundle_dir: Path) -> None:
    (bundle_dir / "catalog.json").unlink()
    (bundle_dir / "profiles/intruder.json").write_bytes(b"{}")
    with pytest.raises(BundleError) as err:
        load_bundle(bundle_dir)
    message = str(err.value)
    assert "catalog.json is missing" in message
    assert "profiles/intruder.json is not listed" in message


def test_edited_manifest_no_longer_matches_its_version(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_bytes())
    manifest["environment"] = "prod"
    (bundle_dir / "manifest.json").write_bytes(canonical_json(manifest))
    with pytest.raises(BundleError, match=r"manifest\.json does not match its version"):
        load_bundle(bundle_dir)


def test_non_canonical_file_is_rejected(bundle_dir: Path) -> None:
    files = _files(bundle_dir)
    files["catalog.json"] = b'{ "capabilities": [] }'
    with pytest.raises(BundleError, match=r"catalog\.json"):
        bundle_from_files(files)


def test_write_refuses_to_replace_a_non_bundle_directory(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(BundleError, match="refusing to replace"):
        write_bundle(
            tmp_path / "precious",
            profiles={},
            catalog={"capabilities": []},
            environment="dev",
            git=GIT,
            schema_versions={},
        )
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_rewriting_a_bundle_drops_stale_profiles(bundle_dir: Path) -> None:
    write_bundle(
        bundle_dir,
        profiles={},
        catalog={"capabilities": []},
        environment="dev",
        git=GIT,
        schema_versions={},
    )
    assert not (bundle_dir / "profiles/alpha.json").exists()
    assert load_bundle(bundle_dir).profiles == {}


def test_bundle_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    # The runtime image reads the bundle as a non-root user other than the builder, so a
    # builder's restrictive umask must not make it unreadable.
    old = os.umask(0o077)
    try:
        write_bundle(
            tmp_path / "b",
            profiles={"alpha": {"profile": "alpha"}},
            catalog={"capabilities": []},
            environment="dev",
            git=GIT,
            schema_versions={},
        )
    finally:
        os.umask(old)
    modes = {
        p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777 for p in tmp_path.rglob("*")
    }
    assert modes == {
        "b": 0o755,
        "b/profiles": 0o755,
        "b/manifest.json": 0o644,
        "b/catalog.json": 0o644,
        "b/profiles/alpha.json": 0o644,
    }


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == (
        '{"a":[1,{"c":"é","d":null}],"b":1}'.encode()
    )


POLICY = {"steps": [{"share": 10.0}, {"share": 100.0}], "gate": {"max_failure_rate": 0.01}}


def _write_plain(out: Path, **rollout: Any) -> str:
    """A one-profile bundle; ``rollout`` passed on only when given (as older callers do)."""
    bundle = write_bundle(
        out,
        profiles={"alpha": {"profile": "alpha", "major_keys": []}},
        catalog={"capabilities": []},
        environment="prod",
        git=GIT,
        schema_versions={"profile": "1"},
        **rollout,
    )
    return bundle.version


def test_a_bundle_without_a_policy_keeps_its_version(tmp_path: Path) -> None:
    before = _write_plain(tmp_path / "a")  # as written before rollout policies existed
    assert _write_plain(tmp_path / "b", rollout=None) == before
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert "rollout" not in load_bundle(tmp_path / "b").manifest["defaults"]


def test_a_policy_is_content_and_round_trips(tmp_path: Path) -> None:
    version = _write_plain(tmp_path / "a", rollout=POLICY)
    assert version != _write_plain(tmp_path / "b")
    loaded = load_bundle(tmp_path / "a")
    assert loaded.version == version
    assert loaded.manifest["defaults"]["rollout"] == POLICY
    policy = loaded.rollout_policy
    assert policy is not None
    assert policy.shares_for(None) == (10.0, 100.0)
    assert policy.gate.max_failure_rate == 0.01


def test_a_policy_breaking_the_rule_is_refused_when_written(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"/steps/1/share: the last step's share must be 100"):
        _write_plain(tmp_path / "a", rollout={"steps": [{"share": 10.0}, {"share": 50.0}]})
    assert not (tmp_path / "a").exists()
