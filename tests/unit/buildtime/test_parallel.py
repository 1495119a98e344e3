"""Fast builds: forked rendering, the compiled-template pack cache, the GC pause, the benchmark.

None of them may change a byte of output or an error: a cold parallel build, a warm one and
a serial one without any cache must agree exactly.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from buildtime import bench
from buildtime.build import Builder, EnvBuild, gc_paused
from buildtime.bytecode import PACK_SUFFIX
from buildtime.depcheck import Checker, check_all
from buildtime.project import Project
from buildtime.workers import PARALLEL_MIN_RENDERS
from service.bundle import load_bundle

MakeProject = Callable[..., Path]
GIT = {"commit": None, "tag": None, "branch": None, "dirty": None}
CHILD = '{% extends "profiles/_base.yaml.j2" %}\n'
BROKEN = CHILD + "{% block settings %}\n  x: {{ nope }}\n{% endblock %}\n"


def _large(make_project: MakeProject, extra: dict[str, str] | None = None) -> Project:
    """Enough profiles that three environments render in forked workers."""
    children = {f"templates/profiles/p{i:03d}.yaml.j2": CHILD for i in range(120)}
    return Project.load(make_project({**children, **(extra or {})}))


def _write_all(builder: Builder, out: Path) -> dict[str, dict[str, bytes]]:
    builds = builder.build_envs(builder.project.environments)
    files = {}
    for env, build in builds.items():
        builder.write(env, out / env, GIT, build=build)
        files[env] = dict(load_bundle(out / env).files)
    return files


def test_cold_parallel_warm_and_serial_builds_write_identical_bytes(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = _large(make_project)
    assert 122 * len(project.environments) >= PARALLEL_MIN_RENDERS
    cache = tmp_path / "cache"
    cold = _write_all(Builder(project, environ={}, cache_dir=cache, jobs=2), tmp_path / "cold")
    packs = list(cache.iterdir())
    assert [p.suffix for p in packs] == [PACK_SUFFIX]  # one file, not one per template
    warm = _write_all(Builder(project, environ={}, cache_dir=cache, jobs=3), tmp_path / "warm")
    serial = _write_all(Builder(project, environ={}, jobs=1), tmp_path / "serial")
    assert cold == warm == serial
    assert len(cold["dev"]) == 122 + 2  # profiles, catalog, manifest


def test_workers_report_template_errors_with_file_and_line(
    make_project: MakeProject, tmp_path: Path
) -> None:
    # Spread over the chunks, so workers and the parent both meet one.
    broken = {f"templates/profiles/p{i:03d}.yaml.j2": BROKEN for i in (5, 60, 115)}
    project = _large(make_project, broken)

    def issues(builds: dict[str, EnvBuild]) -> list[tuple[str, str, int | None, str]]:
        return [(env, i.file, i.line, i.message) for env, b in builds.items() for i in b.issues]

    parallel = Builder(project, environ={}, cache_dir=tmp_path / "c", jobs=2)
    found = issues(parallel.build_envs(project.environments))
    assert found == issues(Builder(project, environ={}, jobs=1).build_envs(project.environments))
    assert [f[:3] for f in found if f[0] == "dev"] == [
        ("dev", f"templates/profiles/p{i:03d}.yaml.j2", 3) for i in (5, 60, 115)
    ]


def _raise_in_worker() -> None:
    raise ValueError("boom in the worker")


def _exit_in_worker() -> None:
    os._exit(3)


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        (_raise_in_worker, r"(?s)render worker failed.*ValueError: boom"),
        (_exit_in_worker, r"render worker died \(exit code 3\)"),
    ],
    ids=["raises", "dies"],
)
def test_a_failing_worker_is_reported_in_the_parent(
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    fail: Callable[[], None],
    message: str,
) -> None:
    project = _large(make_project)
    parent = os.getpid()
    original = Builder.render_profile

    def render_profile(self: Builder, plan: object, name: str) -> object:
        if os.getpid() != parent:
            fail()
        return original(self, plan, name)  # type: ignore[arg-type]

    monkeypatch.setattr(Builder, "render_profile", render_profile)
    with pytest.raises(RuntimeError, match=message):
        Builder(project, environ={}, jobs=2).build_envs(project.environments)


def _payload(cap: str, *deps: str) -> dict[str, object]:
    return {
        "capabilities": [{"name": cap, "version": "1.0.0"}],
        "dependencies": [{"capability": d, "version": "^1"} for d in deps],
        "thresholds": {"heartbeat_interval": 5.0, "degraded_after": 10.0, "expire_after": 20.0},
        "major_keys": ["/config/missing"],
        "config": {"password": "hunter2"},
    }


def test_dependency_checks_do_not_depend_on_arrival_order() -> None:
    catalog = {
        "capabilities": [
            {"name": n, "versions": ["1.0.0"], "dependencies": []} for n in ("a", "b", "c")
        ]
    }
    # Two cycles through "a"; which path is reported depends on the order edges were added.
    profiles = {"p1": _payload("a", "b", "c"), "p2": _payload("b", "a"), "p3": _payload("c", "a")}
    files = {name: f"templates/profiles/{name}.yaml.j2" for name in profiles}
    expected = check_all(catalog, "catalog", profiles, files)
    assert [i.code for i in expected].count("dep-cycle") == 2
    checker = Checker(catalog, "catalog")
    for name in reversed(profiles):
        checker.add(name, profiles[name], files[name])
    assert checker.finish() == expected


def test_pack_cache_recompiles_a_changed_template_and_survives_corruption(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project()
    project = Project.load(root)
    cache = tmp_path / "cache"

    def description() -> str:
        build = Builder(project, environ={}, cache_dir=cache).build_env("dev")
        return str(build.profiles["beta"]["description"])

    assert description() == "base profile"
    beta = root / "templates/profiles/beta.yaml.j2"
    beta.write_text(beta.read_text() + '{% block description %}"edited"{% endblock %}\n')
    assert description() == "edited"  # the cached code of the old source is not used
    (pack,) = cache.iterdir()
    pack.write_bytes(b"not a pack")
    assert description() == "edited"
    assert pack.read_bytes() != b"not a pack"  # rewritten with what was compiled


def test_gc_pause_is_reentrant_and_restores_the_collector() -> None:
    def nested() -> None:
        with gc_paused():
            with gc_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the inner pause does not end the outer one
            raise KeyError

    assert gc.isenabled()
    with pytest.raises(KeyError):
        nested()
    assert gc.isenabled()


def test_benchmark_runs_cold_and_warm_in_fresh_processes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--profiles", "5", "--cold", "1", "--warm", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"cold run 1 \(empty template cache\): \d+ payloads rendered", out)
    assert re.search(r"warm run 1 \(cache of cold run 1\): \d+ payloads rendered", out)
    assert "cold: min " in out and "warm: min " in out
    # Every run reports its CPU time, and the reference loop and the cost of creating a file
    # timed just before it; the summaries give the ratio that compares across a machine whose
    # speed drifts, and the writing time beside the file system's cost per file.
    before = r"\d+\.\d\d CPU s .*just before: reference loop \d+\.\d+ s, \d+\.\d+ ms per new file"
    assert len(re.findall(before, out)) == 2
    assert len(re.findall(r"median \d+\.\d\dx the reference loop", out)) == 2
    assert len(re.findall(r"writing: median \d+\.\d+ s with \d+\.\d+ ms per new file", out)) == 2


def test_file_cost_creates_probe_files_and_keeps_them(tmp_path: Path) -> None:
    cost = bench.file_cost(tmp_path)
    assert cost > 0
    (probe,) = tmp_path.iterdir()
    # Kept until the benchmark's clean-up: deleting them would slow the next creations.
    assert len(list(probe.iterdir())) == bench.FILE_PROBES
