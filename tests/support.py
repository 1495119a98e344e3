"""Test helpers shared by the suites: real redis-server processes, free ports, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis

from loadtests.procs import free_cluster_port, free_port

T = TypeVar("T")


@dataclass
class RedisServer:
    """A real ``redis-server`` on a loopback port, with no persistence."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it as root)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@dataclass
class RedisCluster:
    """A real three-master Redis Cluster on loopback ports (no replicas, no persistence)."""

    workdir: Path
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self, masters: int = 3) -> None:
        for i in range(masters):
            node_dir = self.workdir / f"node{i}"
            node_dir.mkdir()
            node = RedisServer(
                node_dir,
                port=free_cluster_port(),
                extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            )
            node.start()
            self.nodes.append(node)
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (it ships with redis-server)")
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while True:
            states = []
            for n in self.nodes:
                c = n.client()
                states.append(c.cluster("info")["cluster_state"])
                c.close()
            if all(s == "ok" for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not converge: {states}")
            time.sleep(0.05)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, every: float = 0.02
) -> T:
    """Poll ``check`` until it returns a truthy value; fail with its last value at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(every)


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until ``url`` answers (any status)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"process exited with {proc.returncode} before {url} answered"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.05)


@dataclass
class RegistryProcess:
    """A real ``registry serve`` process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_registry(workdir: Path, **env: str) -> RegistryProcess:
    """Start ``registry serve`` with ``REGISTRY_*`` settings and wait until it answers."""
    import sys

    port = free_port()
    log = workdir / f"registry-{port}.log"
    exe = Path(sys.executable).with_name("registry")
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=registry_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    tls = "REGISTRY_TLS_CERT" in env
    try:
        # Generous: five suites may share two cores, and a cold start imports a lot.
        if tls:  # a client-certificate handshake needs credentials: wait for the log line
            # (one process: uvicorn's line; with workers, the parent's)
            eventually_sync(lambda: _listening(log.read_bytes()), 45, proc)
        else:
            wait_http(f"http://127.0.0.1:{port}/health/live", timeout=45, proc=proc)
    except RuntimeError as exc:
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"{exc}; log:\n{log.read_text()}") from None
    return RegistryProcess(proc, port, log, "https" if tls else "http")


def _listening(log: bytes) -> bool:
    return b"Uvicorn running" in log or b"registry: serving on" in log


def eventually_sync(
    check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` s or when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not true within {timeout}s")
        time.sleep(0.05)


def registry_env(**overrides: str) -> dict[str, str]:
    """An environment for a registry subprocess: this one, minus inherited REGISTRY_*.

    ``REGISTRY_AUTH`` defaults to ``off`` (a real Redis requires the choice to be explicit);
    the security tests pass their own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["REGISTRY_AUTH"] = "off"
    env.update(overrides)
    return env


@dataclass
class RedisSentinel:
    """A real master with ``replicas`` real replicas, watched by one real sentinel."""

    workdir: Path
    master: RedisServer | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    name: str = "registry-master"
    replicas: list[RedisServer] = field(default_factory=list)

    def start(self, replicas: int = 0) -> None:
        self.master = RedisServer(self.workdir)
        self.master.start()
        for i in range(replicas):
            node_dir = self.workdir / f"replica{i}"
            node_dir.mkdir()
            replica = RedisServer(
                node_dir, extra=("--replicaof", "127.0.0.1", str(self.master.port))
            )
            replica.start()
            self.replicas.append(replica)
        conf = self.workdir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1\n"
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                c = redis.Redis(port=self.port, socket_timeout=0.5)
                addr = c.sentinel_get_master_addr_by_name(self.name)
                c.close()
                if addr:
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sentinel did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        for replica in self.replicas:
            replica.stop()
        if self.master is not None:
            self.master.stop()


class Monitor:
    """Every command clients send to one redis-server, read with ``MONITOR``.

    Commands a Lua script runs appear as ``[db lua]`` and are left out, so what is counted is
    exactly the round trips clients made, whatever the scripts do inside them.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._seen: list[tuple[str, list[str]]] = []  # (client address, command words)
        self._own: set[str] = set()  # addresses of settle()'s own connections
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def commands(self) -> list[list[str]]:
        """Commands received, in order; names lower case."""
        return [words for addr, words in self._seen if addr not in self._own]

    def clear(self) -> None:
        """Forget what was received so far."""
        self._seen.clear()

    async def __aenter__(self) -> Monitor:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(b"MONITOR\r\n")
        assert await reader.readline() == b"+OK\r\n"
        self._task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        import shlex

        while line := await reader.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            head, _, rest = text.partition("] ")
            if head.endswith(" lua") or not rest:
                continue
            words = shlex.split(rest)
            self._seen.append((head.rsplit(" ", 1)[-1], [words[0].lower(), *words[1:]]))

    async def settle(self, marker: str = "registry-monitor-marker") -> None:
        """Wait until every command sent before this call has been read."""
        r = redis.Redis(port=self.port)
        try:
            r.echo(marker)
        finally:
            r.close()
        deadline = time.monotonic() + 5
        while True:
            own = [addr for addr, words in self._seen if words[:2] == ["echo", marker]]
            if own:
                self._own.update(own)
                return
            if time.monotonic() > deadline:
                raise AssertionError("MONITOR did not deliver the marker")
            await asyncio.sleep(0.01)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._writer is not None
        self._writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._task
