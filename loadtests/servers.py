"""Which ASGI server: HEAD heartbeat throughput and slow-client behaviour, in one run.

    python -m loadtests.servers                       # 5 s per server
    python -m loadtests.servers --duration 1 --agents 50   # dry run

The same replica app (``service.app:create_app_from_env``), the same Redis and fleet, one
worker each, served in turn by uvicorn, granian, hypercorn and ``registry serve`` itself. Each is
driven by wrk with HEAD heartbeats, then probed by one slow-header client (a request line
and no end of headers). The table gives requests/s, the ratio to uvicorn, p99 and how long
the slow client was kept. Only loopback, only processes this script started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtests.procs import (
    Proc,
    _ready,
    free_port,
    pinned,
    registry_env,
    spawn,
    start_redis,
    stopping,
)
from loadtests.seed import BENCH_ENV, fleet, seed
from loadtests.wrkrun import ensure_wrk, run_wrk

APP = "service.app:create_app_from_env"
PARKED_SWEEPER = {"REGISTRY_SWEEP_INTERVAL": "3600"}


def _command(server: str, port: int) -> list[str]:
    bindir = Path(sys.executable).parent
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--timeout-keep-alive", "30", "--log-level", "warning", APP,
        ]  # fmt: skip
    if server == "registry":  # what `registry serve` runs (granian with server_options)
        return [str(bindir / "registry"), "serve", "--port", str(port), "--workers", "1"]
    if server == "granian":
        exe = shutil.which("granian", path=str(bindir)) or "granian"
        return [
            exe, "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "1",
            "--no-ws", "--log-level", "warning", "--http1-header-read-timeout", "5000", APP,
        ]  # fmt: skip
    exe = shutil.which("hypercorn", path=str(bindir)) or "hypercorn"
    return [
        exe, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "uvloop",
        "--read-timeout", "5", "--keep-alive", "75", f"{APP}()",
    ]  # fmt: skip


def start(server: str, work: Path, redis_url: str, cpus: str | None) -> Proc:
    """One replica served by ``server`` on a free loopback port."""
    port = free_port()
    env = registry_env(redis_url, REGISTRY_PORT=str(port), **BENCH_ENV, **PARKED_SWEEPER)
    log = work / f"{server}-{port}.log"
    proc = spawn(pinned(_command(server, port), cpus), log, env)
    _ready(proc, f"http://127.0.0.1:{port}/health/live", log)
    return Proc(proc, port, log)


def slow_header_kept(port: int, limit: float) -> float:
    """Seconds a client that never finishes its headers stays connected (``limit`` max)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(0.25)
        while time.monotonic() - started < limit:
            try:
                if s.recv(4096) == b"":
                    break  # closed by the server
            except TimeoutError:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-Slow: 1\r\n")  # one more header line, never the end
            except OSError:
                break
    return time.monotonic() - started


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure every server; return one row each."""
    ensure_wrk()
    n = os.cpu_count() or 1
    server_cpus, client_cpus = ("0", ",".join(map(str, range(1, n)))) if n > 1 else (None, None)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="registry-servers-") as tmp, stopping([]) as procs:
        work = Path(tmp)
        rds = start_redis(work, cpus=client_cpus)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"
        seed(url, fleet(0, args.agents))
        for server in args.servers:
            proc = start(server, work, url, server_cpus)
            try:
                result = run_wrk(
                    proc.url,
                    ["head", "agent", str(args.agents)],
                    duration=args.duration,
                    connections=args.connections,
                    cpus=client_cpus,
                    server_pid=proc.proc.pid,
                )
                kept = slow_header_kept(proc.port, args.slow_limit)
            finally:
                proc.stop()
            rows.append(
                {"server": server, "slow_header_kept_s": round(kept, 1), **result.as_dict()}
            )
    base = next((r["rps"] for r in rows if r["server"] == "uvicorn"), None)
    for row in rows:
        row["ratio_to_uvicorn"] = round(row["rps"] / base, 2) if base else None
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.servers")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--slow-limit", type=float, default=12.0)
    parser.add_argument(
        "--servers", nargs="+", default=["uvicorn", "granian", "hypercorn", "registry"]
    )
    rows = run(parser.parse_args(argv))
    print(f"{'server':<10} {'HEAD rps':>9} {'ratio':>6} {'p99 ms':>7} {'cpu µs':>7} "
          f"{'statuses':<22} slow header kept")  # fmt: skip
    for r in rows:
        ratio = r["ratio_to_uvicorn"] or "-"
        print(
            f"{r['server']:<10} {r['rps']:>9.0f} {ratio!s:>6} {r['p99_ms']:>7.2f} "
            f"{r['cpu_us_per_request'] or 0:>7.0f} {r['status']!s:<22} {r['slow_header_kept_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
