"""``registry serve --workers N``: the parent hands connections to the workers in turn."""

from __future__ import annotations

import http.client
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents_data import provider
from prometheus_client.mmap_dict import MmapedDict
from support import RedisServer, RegistryProcess, eventually_sync, start_registry


def heads_by_worker(prom_dir: Path) -> dict[str, int]:
    """HEADs counted per worker pid in prometheus_client's per-process counter files."""
    out: dict[str, int] = {}
    for path in prom_dir.glob("counter_*.db"):
        total = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            _, name, labels, _ = json.loads(key)
            if name == "registry_heartbeats_total" and labels.get("kind") == "head":
                total += value
        out[path.stem] = int(total)
    return out


def test_kept_alive_connections_split_evenly_over_both_workers_and_sigterm_stops_all(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    reg = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(prom),
    )
    try:
        conns = [http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10) for _ in range(32)]
        conns[0].request(
            "POST", "/heartbeat", json.dumps(provider()), {"Content-Type": "application/json"}
        )
        assert conns[0].getresponse().read() and True
        for _ in range(3):
            for conn in conns:  # each connection stays on the worker that accepted it
                conn.request("HEAD", "/heartbeat/greeter-1")
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 200
        for conn in conns:
            conn.close()
        by_worker = heads_by_worker(prom)
        # Each connection opens at its first request, so they alternate between the two
        # workers: 16 connections and 48 HEADs each, not a hash's uneven split.
        assert sorted(by_worker.values()) == [48, 48]
    finally:
        reg.proc.terminate()
        assert reg.proc.wait(30) == 0


def _workers_of(pid: int) -> list[int]:
    """The worker processes of a ``registry serve --workers`` parent (from /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in children:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:  # not multiprocessing's resource tracker
            found.append(int(child))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited, not yet reaped by its parent


@pytest.fixture
def two_workers(
    tmp_path: Path, redis_server: RedisServer
) -> Iterator[tuple[RegistryProcess, list[int]]]:
    """A ``--workers 2`` replica once both workers run, with their pids."""
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_server.url, REGISTRY_WORKERS="2")
    try:
        eventually_sync(lambda: len(_workers_of(reg.proc.pid)) == 2, 20)
        yield reg, _workers_of(reg.proc.pid)
    finally:
        reg.stop()


def test_a_worker_that_dies_stops_the_replica_with_status_1(
    two_workers: tuple[RegistryProcess, list[int]],
) -> None:
    reg, (first, second) = two_workers
    os.kill(first, signal.SIGKILL)
    assert reg.proc.wait(30) == 1  # the container restarts the replica as a whole
    eventually_sync(lambda: _gone(second), 20)
    assert b"a worker exited; stopping the others" in reg.log.read_bytes()


def test_workers_stop_when_their_parent_is_killed(
    two_workers: tuple[RegistryProcess, list[int]],
) -> None:
    reg, workers = two_workers
    reg.proc.kill()  # no chance to stop them: their channels to it close
    reg.proc.wait(10)
    eventually_sync(lambda: all(_gone(w) for w in workers), 30)
