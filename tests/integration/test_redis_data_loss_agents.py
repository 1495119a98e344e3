"""Redis loses its data under running replicas while agents heartbeat (end to end, real
registry processes): the agents re-register on 410, and with no replica restarted every
fleet-wide view counts them again and a provider that stops is noticed and unwired."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from agents_data import consumer, provider
from support import RedisCluster, RedisServer, RegistryProcess, eventually, start_registry

pytestmark = pytest.mark.timeout(90)

INTERVAL, DEGRADED, EXPIRE, SWEEP = 0.2, 0.5, 1.0, 0.1
NAMESPACES = {"default": 2, "team-a": 1, "team-b": 1}


class Agent:
    """An agent's heartbeat loop as the MCP Mesh SDK runs it: HEAD every interval, a full
    POST when told 410 (register again) or 202 (something it depends on changed)."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=2)
        self.body = body
        self.heads: list[int] = []
        self.last_post: dict[str, Any] | None = None
        self.task: asyncio.Task[None] | None = None

    async def post(self) -> None:
        r = await self.http.post("/heartbeat", json=self.body)
        if r.status_code == 200:
            self.last_post = r.json()

    async def run(self) -> None:
        await self.post()
        while True:
            await asyncio.sleep(INTERVAL)
            with contextlib.suppress(httpx.HTTPError):
                code = (await self.http.head(f"/heartbeat/{self.body['agent_id']}")).status_code
                self.heads.append(code)
                if code in (202, 410):
                    await self.post()

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stop heartbeating at once, as a SIGKILLed agent does."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.http.aclose()


def _replicas(tmp_path: Path, url: str, mode: str) -> list[RegistryProcess]:
    env = {
        "REGISTRY_REDIS_URL": url,
        "REGISTRY_REDIS_MODE": mode,
        "REGISTRY_HEARTBEAT_INTERVAL": str(INTERVAL),
        "REGISTRY_DEGRADED_AFTER": str(DEGRADED),
        "REGISTRY_EXPIRE_AFTER": str(EXPIRE),
        "REGISTRY_SWEEP_INTERVAL": str(SWEEP),
        "REGISTRY_LOG_LEVEL": "warning",
    }
    return [start_registry(tmp_path, **env) for _ in range(2)]


async def _counted_everywhere(http: httpx.AsyncClient) -> bool:
    """Every unfiltered fleet-wide view counts every agent."""
    want = sum(NAMESPACES.values())
    listed = (await http.get("/agents")).json()
    metrics = (await http.get("/registry/metrics")).json()["agents"]
    drift = (await http.get("/drift")).json()
    events = (await http.get("/events", params={"type": "register"})).json()["events"]
    return (
        listed["count"] == want
        and metrics["healthy"] == want
        and {ns: sum(c.values()) for ns, c in metrics["by_namespace"].items()} == NAMESPACES
        and sum(p["agents"] for p in drift["profiles"]) == want
        and len({e["agent_id"] for e in events}) == want
    )


async def _scenario(
    tmp_path: Path, url: str, mode: str, lose: Any, processes: list[RegistryProcess]
) -> None:
    one, two = _replicas(tmp_path, url, mode)
    processes += [one, two]
    # Agents spread over both replicas: a HEAD of a team-a agent on the replica that did not
    # register it has to find its namespace.
    agents = {
        "g-1": Agent(one.url, provider("g-1")),
        "w-1": Agent(two.url, consumer("w-1", dep={"capability": "greeting"})),
        "a-1": Agent(two.url, provider("a-1", namespace="team-a")),
        "b-1": Agent(one.url, provider("b-1", namespace="team-b")),
    }
    for a in agents.values():
        a.start()
    try:
        async with httpx.AsyncClient(base_url=one.url, timeout=2) as http:
            await eventually(lambda: _counted_everywhere(http), timeout=10)
            await lose()
            for a in agents.values():
                a.heads.clear()

            async def healed() -> bool:
                told = all(410 in a.heads for a in agents.values())
                return told and await _counted_everywhere(http)

            await eventually(healed, timeout=15, every=0.1)
            w = agents["w-1"]
            assert w.last_post is not None
            assert w.last_post["dependencies_resolved"]["welcome"][0]["agent_id"] == "g-1"

            # The provider dies. The consumer's HEAD says 202 and its POST finds nothing.
            await agents["g-1"].stop()
            w.heads.clear()
            stopped = time.monotonic()

            async def unwired() -> bool:
                post = w.last_post
                slot = post["dependencies_resolved"]["welcome"][0] if post else {}
                return 202 in w.heads and slot.get("status") == "unresolved"

            # expire_after plus one interval, and slack for a 2-core CI machine.
            await eventually(unwired, timeout=EXPIRE + INTERVAL + 3, every=0.05)
            assert 410 not in w.heads  # the consumer itself never looked expired
            assert time.monotonic() - stopped >= EXPIRE * 0.9
            expired = (await http.get("/events", params={"type": "expire"})).json()["events"]
            assert [e["agent_id"] for e in expired] == ["g-1"]
    finally:
        for a in agents.values():
            await a.stop()


@pytest.mark.parametrize("loss", ["flushall", "restart"])
async def test_standalone_heals_after_data_loss_without_a_replica_restart(
    tmp_path: Path, own_redis: RedisServer, processes: list[RegistryProcess], loss: str
) -> None:
    async def lose() -> None:
        if loss == "flushall":
            raw = aioredis.Redis.from_url(own_redis.url)
            await raw.flushall()
            await raw.script_flush()
            await raw.aclose()
        else:
            own_redis.stop()
            own_redis.start()  # same port, nothing persisted

    await _scenario(tmp_path, own_redis.url, "standalone", lose, processes)


async def test_cluster_heals_after_flushall_without_a_replica_restart(
    tmp_path: Path, redis_cluster: RedisCluster, processes: list[RegistryProcess]
) -> None:
    def flush() -> None:
        for node in redis_cluster.nodes:
            c = node.client()
            c.flushall()
            c.script_flush()
            c.close()

    flush()

    async def lose() -> None:
        flush()

    await _scenario(tmp_path, redis_cluster.url, "cluster", lose, processes)
