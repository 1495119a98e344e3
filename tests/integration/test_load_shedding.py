"""Load shedding: beyond the calls in flight and the queue, a replica refuses at once.

In every topology (standalone, Sentinel, Cluster) the store's gate keeps Redis round trips
within ``REGISTRY_REDIS_POOL_SIZE`` and queues at most ``REGISTRY_REDIS_QUEUE`` more, so a
paused Redis gives 503 + ``Retry-After`` (shed or timed out), never "Too many connections",
never a 410, and the shed calls are counted.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from agents_data import provider
from support import RedisCluster, RedisSentinel, RedisServer, eventually, start_registry

BURST = 60


@contextmanager
def _topology(kind: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], list[RedisServer]]]:
    """Settings for a replica on ``kind``, and the servers to pause."""
    if kind == "standalone":
        server = RedisServer(tmp_path)
        server.start()
        try:
            yield {"REGISTRY_REDIS_URL": server.url}, [server]
        finally:
            server.stop()
    elif kind == "sentinel":
        sentinel = RedisSentinel(tmp_path)
        sentinel.start()
        assert sentinel.master is not None
        try:
            yield (
                {
                    "REGISTRY_REDIS_MODE": "sentinel",
                    "REGISTRY_REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}",
                    "REGISTRY_REDIS_SENTINEL_MASTER": sentinel.name,
                },
                [sentinel.master],
            )
        finally:
            sentinel.stop()
    else:
        cluster = RedisCluster(tmp_path)
        cluster.start()
        try:
            yield (
                {"REGISTRY_REDIS_MODE": "cluster", "REGISTRY_REDIS_URL": cluster.url},
                list(cluster.nodes),
            )
        finally:
            cluster.stop()


def _shed(metrics: str) -> float:
    found = re.search(r"^registry_store_shed_total (\S+)$", metrics, re.M)
    assert found is not None, "registry_store_shed_total is not exported"
    return float(found[1])


@pytest.mark.parametrize("kind", ["standalone", "sentinel", "cluster"])
async def test_a_paused_store_sheds_load_with_503_and_retry_after(
    kind: str, tmp_path: Path
) -> None:
    with _topology(kind, tmp_path) as (env, servers):
        proc = start_registry(
            tmp_path,
            **env,
            REGISTRY_REDIS_TIMEOUT="0.5",
            REGISTRY_REDIS_POOL_SIZE="2",
            REGISTRY_REDIS_QUEUE="2",
            REGISTRY_LOG_LEVEL="warning",
        )
        try:
            async with httpx.AsyncClient(base_url=proc.url, timeout=10) as http:
                assert (await http.post("/heartbeat", json=provider())).status_code == 200
                before = _shed((await http.get("/metrics")).text)
                for server in servers:
                    assert server.proc is not None
                    os.kill(server.proc.pid, signal.SIGSTOP)
                try:
                    # Reads take one slot each (heartbeats may share a pipeline, and a slot).
                    answers = await asyncio.gather(
                        *(http.get("/agents/greeter-1") for _ in range(BURST))
                    )
                finally:
                    for server in servers:
                        assert server.proc is not None
                        os.kill(server.proc.pid, signal.SIGCONT)
                odd = [(r.status_code, r.text) for r in answers if r.status_code != 503]
                assert not odd, odd[:3]
                assert all(r.headers.get("retry-after") == "1" for r in answers)
                titles = {r.json()["title"] for r in answers}
                # Beyond 2 in flight and 2 queued, the rest are refused without waiting.
                assert "Store saturated" in titles, titles
                after = _shed((await http.get("/metrics")).text)
                # Most are shed (how many depends on how fast the burst arrives).
                assert after - before >= BURST // 2, (before, after)

                async def back() -> bool:
                    return (await http.head("/heartbeat/greeter-1")).status_code == 200

                await eventually(back, timeout=20, every=0.1)
                # Nothing was lost: the agent reads back as it was registered.
                row = (await http.get("/agents/greeter-1")).json()
                assert (row["id"], row["status"]) == ("greeter-1", "healthy")
        finally:
            proc.stop()
        assert "Too many connections" not in proc.log.read_text()
