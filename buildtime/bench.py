"""Benchmark: build and validate N generated profiles x every environment.

``python -m buildtime.bench [--profiles 1000] [--cold 3] [--warm 3]`` copies the shipped
templates and schemas to a temporary directory and adds N profiles that extend the shipped
base (each providing one capability and depending on the previous one). Each run is a fresh
interpreter timing the full pipeline: values, render, schema validation, dependency checks,
hashing and writing every environment's bundle. A cold run starts with an empty
compiled-template cache (a first build in CI or a container image); warm runs reuse the cache
the first cold run left behind.

This machine's speed drifts (a shared VM: the same run can take twice as long an hour later),
so before every run the benchmark times a fixed reference workload (a pure-Python loop) and
reports each build time also as a multiple of it: those ratios compare across runs and
machines where the seconds do not. It also times creating a few empty files where the run will
write, because writing the bundles (3,000 new files) is the part the file system decides: on
ext4 without a journal, as here, the kernel skips inodes freed in the last
``vm.dirty_expire_centisecs`` (30 s) when it allocates one, so right after thousands of files
were deleted near the same directory (a test run, the previous benchmark's clean-up) each new
file can cost a millisecond of kernel time instead of twenty microseconds. The benchmark works
in the system's temporary directory; set ``TMPDIR`` to measure another file system.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from buildtime.build import Builder, gc_paused
from buildtime.project import Project
from buildtime.workers import default_jobs

__all__ = ["generate", "main", "run_once"]

REPO = Path(__file__).resolve().parent.parent

_PROFILE = """{{% extends "profiles/_base.yaml.j2" %}}
{{% import "profiles/_macros.j2" as m %}}
{{% block description %}}"Generated agent {i}"{{% endblock %}}
{{% block capabilities %}}
{{{{ m.capability("bench-cap-{i:04d}", "1.{minor}.0", tags=["bench", "group-{group}"]) }}}}
{{% endblock %}}
{{% block dependencies %}}
{{{{ m.dependency("geocode", "^1.3") }}}}
{dependency}{{% endblock %}}
{{% block settings %}}
  worker:
    index: {i}
    batch_size: {{{{ 10 if environment == "prod" else 2 }}}}
    regions: {{{{ regions | json }}}}
{{% endblock %}}
"""

_CATALOG_LOOP = """{% for i in range(COUNT) %}
  - name: {{ "bench-cap-%04d" | format(i) }}
    versions: ["1.0.0", "1.1.0", "1.2.0"]
    description: {{ ("Generated capability " ~ i) | json }}
    tags: [bench]
{% endfor %}
rules:
"""


def generate(root: Path, count: int) -> Project:
    """Copy the shipped inputs to ``root`` and add ``count`` generated profiles."""
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "schemas", root / "schemas")
    catalog = root / "templates" / "catalog.yaml.j2"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("rules:\n", _CATALOG_LOOP.replace("COUNT", str(count)), 1))
    profiles = root / "templates" / "profiles"
    for i in range(count):
        dependency = ""
        if i:
            dependency = f'{{{{ m.dependency("bench-cap-{i - 1:04d}", "^1.0") }}}}\n'
        (profiles / f"bench-agent-{i:04d}.yaml.j2").write_text(
            _PROFILE.format(i=i, minor=i % 3, group=i % 10, dependency=dependency)
        )
    return Project.load(root)


def run_once(
    project: Project, out: Path, *, cache_dir: Path | None, jobs: int | None
) -> tuple[float, float, int]:
    """Build, validate and write every environment: (validated after s, total s, profiles)."""
    start = time.perf_counter()
    # One pause for the whole pipeline, as `registry-build build` has for its one bundle.
    with gc_paused():
        builder = Builder(project, environ={}, cache_dir=cache_dir, jobs=jobs)
        builds = builder.build_envs(project.environments)
        for build in builds.values():
            if build.issues:
                raise SystemExit(f"benchmark inputs do not validate: {build.issues[:3]}")
        validated = time.perf_counter() - start
        git = {"commit": None, "tag": None, "branch": None, "dirty": None}
        for env, build in builds.items():
            builder.write(env, out / env, git, build=build)
        total = sum(len(build.profiles) for build in builds.values())
        return validated, time.perf_counter() - start, total


REFERENCE_LOOPS = 5_000_000


def reference() -> float:
    """Seconds this interpreter takes for a fixed pure-Python loop (the speed yardstick)."""
    start = time.perf_counter()
    total = 0
    for i in range(REFERENCE_LOOPS):
        total += i
    assert total == REFERENCE_LOOPS * (REFERENCE_LOOPS - 1) // 2
    return time.perf_counter() - start


FILE_PROBES = 200


def file_cost(directory: Path) -> float:
    """Milliseconds the file system takes to create an empty file in ``directory`` now.

    The probe files stay until the benchmark's clean-up: deleting them here would itself
    slow the next creations down (see the module docstring).
    """
    probe = Path(tempfile.mkdtemp(prefix="file-probe-", dir=directory))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    start = time.perf_counter()
    for i in range(FILE_PROBES):
        os.close(os.open(probe / str(i), flags, 0o644))
    return (time.perf_counter() - start) * 1000 / FILE_PROBES


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the render workers)."""
    own, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _child(args: argparse.Namespace) -> int:
    """One timed run in this (fresh) interpreter; prints its result as JSON."""
    project = Project.load(args.run)
    before = _cpu()
    validated, seconds, total = run_once(project, args.out, cache_dir=args.cache, jobs=args.jobs)
    cpu = _cpu() - before
    print(json.dumps({"validated": validated, "total": seconds, "payloads": total, "cpu": cpu}))
    return 0


def steal_share() -> Callable[[], float | None]:
    """Start measuring the share of CPU time the hypervisor stole from this VM; call the
    result to read it (None where /proc/stat has no steal column)."""

    def sample() -> tuple[int, int] | None:
        try:
            fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
            ticks = [int(x) for x in fields[1:9]]
        except (OSError, ValueError):
            return None
        return (ticks[7], sum(ticks)) if len(ticks) == 8 else None

    before = sample()

    def read() -> float | None:
        after = sample()
        if before is None or after is None or after[1] == before[1]:
            return None
        return (after[0] - before[0]) / (after[1] - before[1])

    return read


def _spawn(root: Path, cache: Path, out: Path, jobs: int | None) -> dict[str, float]:
    command = [sys.executable, "-m", "buildtime.bench", "--run", str(root)]
    command += ["--cache", str(cache), "--out", str(out)]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    steal = steal_share()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"benchmark run failed:\n{done.stdout}{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    result["process"] = time.perf_counter() - start
    stolen = steal()
    if stolen is not None:
        result["steal"] = stolen
    return result


def _stolen(result: dict[str, float]) -> str:
    # Steal is CPU time the hypervisor gave to other guests: on a busy host, runs slow down.
    return f"; CPU stolen by the hypervisor: {result['steal']:.0%}" if "steal" in result else ""


def _summary(kind: str, runs: list[dict[str, float]]) -> str:
    totals = [r["total"] for r in runs]
    validated = [r["validated"] for r in runs]
    ratios = [r["total"] / r["reference"] for r in runs]
    cpu = [r["cpu"] for r in runs]
    writing = [r["total"] - r["validated"] for r in runs]
    files = [r["file_ms"] for r in runs]
    return (
        f"{kind}: min {min(totals):.3f} s, median {statistics.median(totals):.3f} s over "
        f"{len(runs)} run(s) (rendered and validated: min {min(validated):.3f} s, "
        f"median {statistics.median(validated):.3f} s; hashing and writing: median "
        f"{statistics.median(writing):.3f} s with {statistics.median(files):.3f} ms per new "
        f"file); CPU median {statistics.median(cpu):.2f} s; median "
        f"{statistics.median(ratios):.2f}x the reference loop"
    )


def main(argv: list[str] | None = None) -> int:
    """Time cold runs (empty template cache) and warm runs, each in a fresh interpreter."""
    parser = argparse.ArgumentParser(prog="python -m buildtime.bench", description=__doc__)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=3, help="runs with an empty cache")
    parser.add_argument("--warm", type=int, default=3, help="runs reusing the cache")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: CPUs)")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # internal: one child run
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run is not None:
        return _child(args)
    if args.warm and not args.cold:
        parser.error("warm runs reuse the cache of the first cold run: pass --cold 1 or more")
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        root = Path(tmp) / "src"
        project = generate(root, args.profiles)
        print(
            f"{args.profiles} generated profiles x {len(project.environments)} environments, "
            f"jobs={args.jobs or default_jobs()}; each run is a fresh interpreter, timed from "
            "Builder() to the last bundle written (imports and interpreter start excluded; "
            "'process' includes them)"
        )
        results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        plan = [("cold", i) for i in range(args.cold)] + [("warm", i) for i in range(args.warm)]
        for kind, i in plan:
            # Cold: a new empty cache every time. Warm: the cache the first cold run filled.
            cache = Path(tmp) / (f"cache-cold-{i}" if kind == "cold" else "cache-cold-0")
            yardstick, file_ms = reference(), file_cost(Path(tmp))
            result = _spawn(root, cache, Path(tmp) / f"out-{kind}-{i}", args.jobs)
            result["reference"], result["file_ms"] = yardstick, file_ms
            results[kind].append(result)
            label = "empty template cache" if kind == "cold" else "cache of cold run 1"
            print(
                f"{kind} run {i + 1} ({label}): {result['payloads']:.0f} payloads rendered and "
                f"validated in {result['validated']:.3f} s; with hashing and writing the "
                f"bundles {result['total']:.3f} s, {result['cpu']:.2f} CPU s (process "
                f"{result['process']:.3f} s; just before: reference loop {yardstick:.3f} s, "
                f"{file_ms:.3f} ms per new file{_stolen(result)})"
            )
        for kind, runs in results.items():
            if runs:
                print(_summary(kind, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
