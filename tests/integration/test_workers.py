"""``registry serve --workers N``: the parent hands connections to the workers in turn."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from agents_data import provider
from prometheus_client.mmap_dict import MmapedDict
from support import RedisServer, start_registry


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
