"""Mass-expiry protection against a real Redis: both sides.

- Half a namespace stops at once: the expiries are held as ``suspect`` for one window (still
  offered, marked), then every one of them expires and is unwired; protection ends and does
  not start again within its cool-down.
- The sweeper lost the store (Redis paused past the agents' TTL): the first pass after it
  holds the expiries, the agents come back, and no expiry is ever recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

from agents_data import consumer, provider
from litestar.testing import AsyncTestClient
from support import RedisServer, eventually

from service.app import create_app
from service.settings import Settings

FAST = {
    "REGISTRY_HEARTBEAT_INTERVAL": "0.3",
    "REGISTRY_DEGRADED_AFTER": "0.6",
    "REGISTRY_EXPIRE_AFTER": "1.2",
    "REGISTRY_RETENTION": "30",
    "REGISTRY_SWEEP_INTERVAL": "0.1",
    "REGISTRY_REDIS_TIMEOUT": "0.3",
    "REGISTRY_AUTH": "off",
    "REGISTRY_LOG_LEVEL": "warning",
}


class Fleet:
    """Agents heartbeating (HEAD, POST when told to) until each is stopped: providers of
    ``work``, and the consumer ``c-1`` that depends on it."""

    def __init__(self, http: AsyncTestClient[Any], ids: list[str]) -> None:
        self.http, self.ids = http, ids
        self.bodies = {a: provider(a, cap="work", port=9100 + i) for i, a in enumerate(ids)}
        self.bodies["c-1"] = consumer("c-1", dep={"capability": "work"})
        self.beating = set(self.bodies)
        self.paused = False
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for body in self.bodies.values():
            r = await self.http.post("/heartbeat", json=body)
            assert r.status_code == 200, r.text
        self.task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(0.3)
            if self.paused:
                continue
            for agent_id, body in self.bodies.items():
                if agent_id not in self.beating:
                    continue
                r = await self.http.head(f"/heartbeat/{agent_id}")
                if r.status_code in (202, 410):
                    await self.http.post("/heartbeat", json=body)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@contextlib.asynccontextmanager
async def _registry(redis: RedisServer, **extra: str) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(Settings.from_env({"REGISTRY_REDIS_URL": redis.url, **FAST, **extra}))
    async with AsyncTestClient(app=app, timeout=10) as http:
        yield http


async def _events(http: AsyncTestClient[Any], kind: str) -> list[dict[str, Any]]:
    r = await http.get("/events", params={"type": kind, "limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def _after(event_id: str, other: str) -> bool:
    """Stream ids ("ms-seq") in order."""
    a, b = event_id.split("-"), other.split("-")
    return (int(a[0]), int(a[1])) > (int(b[0]), int(b[1]))


async def _statuses(http: AsyncTestClient[Any]) -> dict[str, str]:
    r = await http.get("/agents", params={"limit": 1000})
    return {a["id"]: a["status"] for a in r.json()["agents"]}


async def _offered(http: AsyncTestClient[Any]) -> dict[str, str]:
    r = await http.get("/capabilities/work/providers", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return {p["agent_id"]: p["status"] for p in r.json()["providers"]}


async def test_half_the_namespace_stops_held_as_suspect_then_all_unwired(
    own_redis: RedisServer,
) -> None:
    ids = [f"p-{i:02d}" for i in range(20)]
    dead, alive = ids[:10], ids[10:]
    # A window well past expire_after: the guard (and so the cool-down) lasts two windows from
    # the start, so the second batch below expires inside the cool-down however slow the
    # machine is between the two checks.
    async with _registry(own_redis, REGISTRY_PROTECT_WINDOW="3") as http:
        fleet = Fleet(http, ids)
        await fleet.start()
        try:
            r = await http.post("/heartbeat", json=consumer("c-1", dep={"capability": "work"}))
            assert r.json()["dependencies_resolved"]["welcome"][0]["status"] == "available"
            fleet.beating -= set(dead)  # they stop at once, like a killed node

            async def held() -> bool:
                return set(dead) <= {
                    a for a, s in (await _statuses(http)).items() if s == "suspect"
                }

            await eventually(held, timeout=10)
            protect = await _events(http, "protect")
            assert len(protect) == 1 and "agents missing heartbeats" in protect[0]["detail"]
            offered = await _offered(http)
            assert {a for a, s in offered.items() if s == "suspect"} == set(dead)
            assert all(offered[a] in ("healthy", "degraded") for a in alive)
            figures = (await http.get("/registry/metrics")).json()
            assert figures["protection"]["default"]["active"] is True
            assert figures["protection"]["default"]["held"] == len(dead)
            assert figures["agents"]["suspect"] == len(dead)
            metrics = (await http.get("/metrics")).text
            assert 'registry_protection_active{namespace="default"} 1.0' in metrics
            overview = (await http.get("/ui/")).text
            assert 'id="protection-default"' in overview and 'id="count-suspect"' in overview

            # A consumer still wired to a held provider sees it marked; a live one wins.
            wiring = await http.post("/heartbeat", json=consumer("c-1", dep={"capability": "work"}))
            slot = wiring.json()["dependencies_resolved"]["welcome"][0]
            assert slot["agent_id"] in alive and "suspect" not in slot

            # Protection ends: every held agent expires and is unwired; no survivor is.
            async def unwired() -> bool:
                offered = await _offered(http)
                return not set(dead) & set(offered) and set(alive) <= set(offered)

            await eventually(unwired, timeout=10)
            statuses = await _statuses(http)
            assert all(statuses[a] == "expired" for a in dead), statuses
            assert all(statuses[a] in ("healthy", "degraded") for a in [*alive, "c-1"]), statuses
            expired = {e["agent_id"]: e["detail"] for e in await _events(http, "expire")}
            assert set(expired) == set(dead)
            assert set(expired.values()) == {"after protection"}
            assert len(await _events(http, "unprotect")) == 1
            figures = (await http.get("/registry/metrics")).json()
            assert figures["protection"]["default"]["active"] is False
            assert figures["protection"]["default"]["held"] == 0

            # Within the cool-down, another mass expiry is not held: protection cannot chain.
            # (Only events after the unprotect count: on a loaded machine a survivor may have
            # missed a beat during the window and been held for a moment, which is correct.)
            ended = (await _events(http, "unprotect"))[0]["id"]
            second = alive[:5]
            fleet.beating -= set(second)

            # Readers stop offering an agent the moment its liveness key is gone; the sweeper
            # records the expiry on its next pass. Wait for the record, not the reader.
            async def recorded() -> bool:
                return set(second) <= {e["agent_id"] for e in await _events(http, "expire")}

            await eventually(recorded, timeout=10)
            assert not set(second) & set(await _offered(http))
            assert len(await _events(http, "protect")) == 1
            later = [e for e in await _events(http, "suspect") if _after(e["id"], ended)]
            assert later == []
            expired = {e["agent_id"]: e["detail"] for e in await _events(http, "expire")}
            assert all(expired[a] != "after protection" for a in second), expired
        finally:
            await fleet.stop()


async def test_after_the_store_was_paused_expiries_are_held_and_agents_recover(
    own_redis: RedisServer,
) -> None:
    # Five agents: below REGISTRY_PROTECT_MIN_AGENTS, so only the outage rule can hold them.
    ids = [f"p-{i}" for i in range(5)]
    async with _registry(own_redis) as http:
        fleet = Fleet(http, ids)
        await fleet.start()
        try:
            assert own_redis.proc is not None
            fleet.paused = True  # the agents' retries back off past the pause, too
            os.kill(own_redis.proc.pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(2.0)  # the fault itself: longer than expire_after (1.2 s)
            finally:
                os.kill(own_redis.proc.pid, signal.SIGCONT)

            async def held() -> bool:
                statuses = await _statuses(http)
                return {*ids, "c-1"} <= {a for a, s in statuses.items() if s == "suspect"}

            await eventually(held, timeout=10)
            protect = await _events(http, "protect")
            assert len(protect) == 1 and "store was unreachable" in protect[0]["detail"]
            assert {a for a, s in (await _offered(http)).items() if s == "suspect"} == set(ids)

            fleet.paused = False

            async def back() -> bool:
                statuses = await _statuses(http)
                return len(statuses) == 6 and all(s == "healthy" for s in statuses.values())

            await eventually(back, timeout=10)
            recovered = {e["agent_id"]: e["detail"] for e in await _events(http, "recover")}
            assert set(recovered) == {*ids, "c-1"} and set(recovered.values()) == {"was suspect"}
            assert await _events(http, "expire") == []  # no false expiry, ever
            assert set(await _offered(http)) == set(ids)
        finally:
            await fleet.stop()
