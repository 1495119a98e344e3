"""Processes the load tools start on loopback: redis-server, registry replicas, peers.

Every process is started with a bounded wait and stopped by its own pid; nothing here
touches processes it did not start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    import random

    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def pinned(cmd: Sequence[str], cpus: str | None) -> list[str]:
    """Prefix ``cmd`` with ``taskset -c cpus`` when asked and available (Linux)."""
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *cmd]
    return list(cmd)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until ``url`` answers with any HTTP status, or fail if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"process exited ({proc.returncode}) before {url} answered"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


@dataclass
class Proc:
    """A started child process, its port and its log file."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """Base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; only this process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def spawn(
    cmd: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout and stderr going to ``log``."""
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env)


def start_redis(
    workdir: Path, cpus: str | None = None, *, port: int | None = None, extra: Sequence[str] = ()
) -> Proc:
    """A ``redis-server`` with no persistence on ``port`` (default: a free loopback port).

    ``extra`` is appended to the command line (``--replicaof``, ``--cluster-enabled`` ...).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = port or free_port()
    log = workdir / f"redis-{port}.log"
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(workdir), *extra]
    proc = spawn(pinned(args, cpus), log)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return Proc(proc, port, log)
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start; see {log}")
        time.sleep(0.02)


def registry_env(redis_url: str, **extra: str) -> dict[str, str]:
    """This environment minus inherited ``REGISTRY_*``, plus the Redis URL and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    # Benchmarks measure the registry without auth unless they pass REGISTRY_AUTH themselves.
    env.update(
        {
            "REGISTRY_REDIS_URL": redis_url,
            "REGISTRY_LOG_LEVEL": "warning",
            "REGISTRY_AUTH": "off",
            **extra,
        }
    )
    return env


def start_registry(
    workdir: Path,
    redis_url: str,
    *,
    workers: int = 1,
    cpus: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Proc:
    """``registry serve`` (the production entry point) on ``port`` (default: a free one)."""
    port = port or free_port()
    exe = Path(sys.executable).with_name("registry")
    cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    log = workdir / f"registry-{port}.log"
    proc = spawn(pinned(cmd, cpus), log, registry_env(redis_url, **(env or {})))
    _ready(proc, f"http://127.0.0.1:{port}/health/live", log)
    return Proc(proc, port, log)


def start_trivial(workdir: Path, *, workers: int = 1, cpus: str | None = None) -> Proc:
    """The framework-ceiling app (:mod:`loadtests.trivial_app`) served like a replica."""
    port = free_port()
    cmd = [sys.executable, "-m", "loadtests.trivial_app", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    log = workdir / f"trivial-{port}.log"
    proc = spawn(pinned(cmd, cpus), log, dict(os.environ))
    _ready(proc, f"http://127.0.0.1:{port}/trivial", log)
    return Proc(proc, port, log)


def _ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    try:
        wait_http(url, proc)
    except RuntimeError as exc:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        raise RuntimeError(f"{exc}; log:\n{log.read_text(errors='replace')[-2000:]}") from None


@contextlib.contextmanager
def stopping(procs: list[Proc]) -> Iterator[list[Proc]]:
    """Stop every process in ``procs`` (appended to while inside), newest first."""
    try:
        yield procs
    finally:
        for p in reversed(procs):
            p.stop()
