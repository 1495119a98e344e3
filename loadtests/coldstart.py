"""Cold start: from ``exec registry serve`` to the first ``GET /health/ready`` answering 200.

    python -m loadtests.coldstart [--runs 5]

Two set-ups, each started ``--runs`` times (the median is the figure): the embedded store
with no bundle (what a scale-from-zero edge replica runs), and a real Redis with the dev
config bundle (verified, published and claimed before ready). The probe polls every 5 ms
from this process, so the figure includes the interpreter, every import, the lifespan and
the first request.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from loadtests.procs import free_port, pinned, registry_env, spawn, start_redis

#: Goals of issue 17 (seconds, median): a replica scaling from zero serves quickly.
GOALS = {"embedded": 0.5, "redis_bundle": 0.8}


def time_to_ready(
    workdir: Path, env: dict[str, str], cpus: str | None = None, timeout: float = 30.0
) -> float:
    """Seconds from spawning ``registry serve`` to its first 200 on ``/health/ready``."""
    port = free_port()
    exe = Path(sys.executable).with_name("registry")
    cmd = pinned([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], cpus)
    url = f"http://127.0.0.1:{port}/health/ready"
    started = time.perf_counter()
    proc = spawn(cmd, workdir / f"coldstart-{port}.log", env)
    try:
        deadline = started + timeout
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            except urllib.error.HTTPError:
                pass  # up, not ready yet
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"registry exited ({proc.returncode}) before ready"
                    ) from None
            time.sleep(0.005)
        raise RuntimeError(f"not ready within {timeout}s")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def measure(
    workdir: Path, redis_url: str, bundle_dir: Path, runs: int, cpus: str | None
) -> dict[str, Any]:
    """Both set-ups, ``runs`` starts each: every sample, the median, the goal."""
    setups = {
        "embedded": registry_env("", REGISTRY_LOG_LEVEL="warning"),
        "redis_bundle": registry_env(redis_url, REGISTRY_BUNDLE_DIR=str(bundle_dir)),
    }
    setups["embedded"].pop("REGISTRY_REDIS_URL")
    out: dict[str, Any] = {}
    for name, env in setups.items():
        samples = [time_to_ready(workdir, env, cpus) for _ in range(runs)]
        median = statistics.median(samples)
        out[name] = {
            "samples_s": [round(s, 3) for s in samples],
            "median_s": round(median, 3),
            "goal_s": GOALS[name],
            "met": median <= GOALS[name],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Start a private Redis, build the dev bundle, time both set-ups."""
    from loadtests.bench import default_cpus
    from loadtests.run import build_bundle

    server, client = default_cpus()
    p = argparse.ArgumentParser(prog="python -m loadtests.coldstart", description=__doc__)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="registry-coldstart-") as tmp:
        work = Path(tmp)
        rds = start_redis(work, cpus=client)
        try:
            build_bundle(work / "bundle")
            url = f"redis://127.0.0.1:{rds.port}/0"
            out = measure(work, url, work / "bundle", args.runs, server)
        finally:
            rds.stop()
    for name, r in out.items():
        print(f"{name}: median {r['median_s']:.3f} s (goal <= {r['goal_s']} s) {r['samples_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
