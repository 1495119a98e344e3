"""``make loadtest``: Redis and two replicas on loopback, the mixed locust scenario, a summary.

    python -m loadtests.run --duration 60

The replicas serve a config bundle that ``registry-build build --env dev`` writes into the
run's temporary directory (the config polling scenario needs one).

Everything it starts is stopped on exit. The exit code is locust's: non-zero when a
threshold in :mod:`loadtests.thresholds` is broken.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtests.procs import start_redis, start_registry, stopping
from loadtests.thresholds import parse_summary, summary_line

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def locust_command(args: argparse.Namespace, replicas: list[str]) -> list[str]:
    """The headless locust invocation for the mixed scenario."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{args.duration:g}s",
        "--stop-timeout",
        "5",
        "--replicas",
        ",".join(replicas),
        "--heartbeat-interval",
        f"{args.heartbeat_interval:g}",
        "--loglevel",
        "WARNING",
    ]


def build_bundle(out: Path, env: str = "dev") -> str:
    """``registry-build build`` of the repository's templates into ``out``; its version."""
    exe = Path(sys.executable).with_name("registry-build")
    cmd = [str(exe), "build", "--root", str(ROOT), "--env", env, "--out", str(out), "-q"]
    cmd += ["--no-cache"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"registry-build failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def print_summary(summary: dict[str, Any]) -> None:
    """The verdict and per-scenario figures, one line each."""
    print(
        f"\nloadtest {'PASSED' if summary['passed'] else 'FAILED'}: "
        f"{summary['requests']:,} requests, {summary['failures']} failures, "
        f"{summary['rps']:,.1f} req/s, p99 {summary['p99_ms']:.0f} ms"
    )
    for name, s in summary["scenarios"].items():
        print(
            f"  {name:6} {s['requests']:>8,} requests {s['failures']:>4} failures "
            f"p99 {s['p99_ms']:>6.0f} ms (limit {s['p99_limit_ms']:.0f})"
        )
    print(f"  events: {summary['events']}")
    for problem in summary["broken"]:
        print(f"  BROKEN: {problem}")


def main(argv: list[str] | None = None) -> int:
    """Start, load, tear down; return locust's exit code (2 when it printed no summary)."""
    p = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--users", type=int, default=36, help="virtual users (agents + readers)")
    p.add_argument("--spawn-rate", type=float, default=20.0)
    p.add_argument("--heartbeat-interval", type=float, default=1.0, help="shortened lease, s")
    p.add_argument("--replicas", type=int, default=2, help="replica processes")
    p.add_argument("--bundle-env", default="dev", help="registry-build --env for the bundle")
    args, extra = p.parse_known_args(argv)  # the rest goes to locust (e.g. --p99-hb-ms 200)

    with tempfile.TemporaryDirectory(prefix="registry-loadtest-") as tmp, stopping([]) as procs:
        work = Path(tmp)
        bundle = work / "bundle"
        version = build_bundle(bundle, args.bundle_env)
        rds = start_redis(work)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"
        for _ in range(args.replicas):
            procs.append(start_registry(work, url, env={"REGISTRY_BUNDLE_DIR": str(bundle)}))
        replicas = [proc.url for proc in procs[1:]]
        print(f"redis {url}; replicas {' '.join(replicas)}; {args.duration:g}s", flush=True)
        print(f"bundle {args.bundle_env} {version}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [*locust_command(args, replicas), *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=args.duration + 90,
            check=False,
        )
    summary = parse_summary(out.stdout)
    if summary is None:
        print(out.stdout[-4000:], out.stderr[-4000:], sep="\n", file=sys.stderr)
        print("loadtest: locust printed no summary", file=sys.stderr)
        return 2
    print(out.stderr[-3000:] if out.returncode else "", end="")
    print_summary(summary)
    print(summary_line(summary))  # for machines (the smoke test reads it)
    return out.returncode


if __name__ == "__main__":
    sys.exit(main())
