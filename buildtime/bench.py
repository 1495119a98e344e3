"""Benchmark: build and validate N generated profiles x every environment.

``python -m buildtime.bench [--profiles 1000] [--repeat 3]`` copies the shipped templates
and schemas to a temporary directory, adds N profiles that extend the shipped base (each
providing one capability and depending on the previous one), and times the full pipeline:
values, render, schema validation, dependency checks, hashing and writing every bundle.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from buildtime.build import Builder
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


def main(argv: list[str] | None = None) -> int:
    """Print the time of a cold run (empty template cache) and of warm runs."""
    parser = argparse.ArgumentParser(prog="python -m buildtime.bench", description=__doc__)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="warm runs after the cold one")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        project = generate(Path(tmp) / "src", args.profiles)
        cache = Path(tmp) / "cache"
        envs = len(project.environments)
        print(
            f"{args.profiles} generated profiles x {envs} environments, "
            f"jobs={args.jobs or default_jobs()}"
        )
        warm = []
        for run in range(args.repeat + 1):
            validated, seconds, total = run_once(
                project, Path(tmp) / f"out{run}", cache_dir=cache, jobs=args.jobs
            )
            label = "cold (no compiled templates)" if run == 0 else "warm (compiled-template cache)"
            if run:
                warm.append(seconds)
            print(
                f"run {run + 1} {label}: {total} payloads rendered and validated in "
                f"{validated:.3f} s; with hashing and writing the bundles {seconds:.3f} s"
            )
        if warm:
            print(f"warm: best {min(warm):.3f} s, mean {sum(warm) / len(warm):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
