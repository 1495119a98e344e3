"""Run ``wrk`` with ``wrk/bench.lua`` and return its figures.

wrk is the load generator because it is C with an event loop per thread: one wrk thread
drives well over 100k small requests/s on one core, several times what one replica process
answers, so the client is not what gets measured. It is pinned to its own core when the
harness is given one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loadtests.procs import cpu_seconds, pinned

SCRIPT = Path(__file__).with_name("wrk") / "bench.lua"


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and answers by status."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    status: dict[str, int]
    #: Server CPU per answered request (µs); robust to other load on a shared machine.
    cpu_us: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "errors": self.errors,
            "status": self.status,
            "cpu_us_per_request": None if self.cpu_us is None else round(self.cpu_us, 1),
        }


def ensure_wrk() -> str:
    """Path of ``wrk``; installed with apt when missing and running as root on Debian."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk)")


def run_wrk(
    url: str,
    args: list[str],
    *,
    duration: float,
    connections: int,
    threads: int = 1,
    cpus: str | None = None,
    server_pid: int | None = None,
) -> WrkResult:
    """Load ``url`` for ``duration`` s with ``bench.lua`` in the mode given by ``args``.

    With ``server_pid``, the server's CPU time over the run is divided by the requests.
    """
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    cmd = [ensure_wrk(), "-t", str(threads), "-c", str(max(connections, threads))]
    cmd += ["-d", f"{max(duration, 1):g}s", "--timeout", "5s", "--latency", "-s", str(SCRIPT)]
    cmd += [url, "--", *args]
    out = subprocess.run(
        pinned(cmd, cpus),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    cpu = cpu_seconds(server_pid) - cpu0 if server_pid else None
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}\n{out.stdout}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    seconds = data["duration_us"] / 1e6
    errors = sum(data["errors"].values())
    return WrkResult(
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        errors=errors,
        status=dict(sorted(data["status"].items())),
        cpu_us=cpu / data["requests"] * 1e6 if cpu is not None and data["requests"] else None,
    )
