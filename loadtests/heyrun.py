"""Run ``hey`` (Debian package ``hey``) against one URL and return its figures.

hey is the HEAD-aware load tool: Go's HTTP client knows a HEAD answer has no body, so it
keeps connections alive even against a server that sends no ``Content-Length`` (the MCP Mesh
reference registry), where wrk would wait for a body. It is slower than wrk per request,
so it is used where wrk cannot be, and both registries get the same hey run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from loadtests.procs import cpu_seconds, pinned
from loadtests.wrkrun import WrkResult


def ensure_hey() -> str:
    """Path of ``hey``; installed with apt when missing and running as root on Debian."""
    found = shutil.which("hey")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "hey"], check=True, env=env)
        found = shutil.which("hey")
        if found:
            return found
    raise SystemExit("hey is missing: install it (Debian/Ubuntu: sudo apt-get install hey)")


_TOTAL = re.compile(r"Total:\s+([\d.]+) secs")
_PCT = re.compile(r"(\d+)% in ([\d.]+) secs")
_STATUS = re.compile(r"\[(\d{3})\]\s+(\d+) responses")
_ERRORS = re.compile(r"^\s+\[(\d+)\]\s", re.M)


def run_hey(
    url: str,
    *,
    method: str = "HEAD",
    duration: float,
    connections: int,
    cpus: str | None = None,
    server_pid: int | None = None,
) -> WrkResult:
    """``hey -z duration -c connections -m method url``, kept alive; the same figures as wrk.

    Throughput counts answered requests only (hey's own Requests/sec includes errors).
    """
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    ncpu = len(cpus.split(",")) if cpus else 1
    cmd = [ensure_hey(), "-z", f"{max(duration, 1):g}s", "-c", str(connections), "-m", method]
    cmd += ["-t", "5", "-cpus", str(ncpu), url]
    out = subprocess.run(
        pinned(cmd, cpus), capture_output=True, text=True, timeout=duration + 60, check=False
    )
    cpu = cpu_seconds(server_pid) - cpu0 if server_pid else None
    text = out.stdout
    total = _TOTAL.search(text)
    if out.returncode != 0 or total is None:
        raise RuntimeError(f"hey failed ({out.returncode}): {out.stderr.strip()}\n{text}")
    seconds = float(total.group(1))
    status = {code: int(n) for code, n in _STATUS.findall(text)}
    answered = sum(status.values())
    errors = text.split("Error distribution:", 1)
    pct = {int(p): float(s) * 1000 for p, s in _PCT.findall(text)}
    return WrkResult(
        requests=answered,
        seconds=seconds,
        rps=answered / seconds if seconds else 0.0,
        p50_ms=pct.get(50, 0.0),
        p99_ms=pct.get(99, 0.0),
        errors=sum(int(n) for n in _ERRORS.findall(errors[1])) if len(errors) > 1 else 0,
        status=dict(sorted(status.items())),
        cpu_us=cpu / answered * 1e6 if cpu is not None and answered else None,
    )
