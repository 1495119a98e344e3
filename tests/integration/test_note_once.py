"""Every replica runs the drift check; ``ConfigStore.note_once`` must let exactly one of them
record the event. Proven with two stores on separate connections to a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from agents_data import agent, tool
from apps import ClientFactory
from config_bundles import worker_bundle
from support import eventually

from service.store.config_store import ConfigStore
from service.store.keys import Keys
from service.store.store import Store

AGENTS = [f"w-{i}" for i in range(200)]


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[ConfigStore, ConfigStore]]:
    """Two replicas' config stores: separate clients, so their calls interleave in Redis."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    one, two = (ConfigStore(Store(c, Keys())) for c in clients)
    yield one, two
    for c in clients:
        await c.aclose()


async def _drift_events(store: ConfigStore) -> list[tuple[str, str]]:
    rows = await store.store.events("default", "-", "+", 10_000)
    return [(r.fields["a"], r.fields["d"]) for r in rows if r.fields["t"] == "drift"]


async def _race(one: ConfigStore, two: ConfigStore, value: str) -> dict[str, list[bool]]:
    """Both replicas note every agent at once; each agent's two answers."""

    async def note(store: ConfigStore, agent_id: str) -> bool:
        return await store.note_once("default", "drift", agent_id, value, f"to {value}")

    out: dict[str, list[bool]] = {}
    for i in range(0, len(AGENTS), 20):  # 40 calls in flight: within the connection pools
        batch = AGENTS[i : i + 20]
        answers = await asyncio.gather(*(note(s, a) for a in batch for s in (one, two)))
        out |= {a: list(answers[2 * j : 2 * j + 2]) for j, a in enumerate(batch)}
    return out


async def test_concurrent_replicas_record_exactly_one_event_per_agent_and_version(
    replicas: tuple[ConfigStore, ConfigStore],
) -> None:
    one, two = replicas
    first = await _race(one, two, "sha256:v1")
    assert {a: sorted(got) for a, got in first.items()} == {a: [False, True] for a in AGENTS}
    assert sorted(await _drift_events(one)) == sorted((a, "to sha256:v1") for a in AGENTS)

    # Any later pass on the same active version records nothing.
    again = await _race(one, two, "sha256:v1")
    assert all(got == [False, False] for got in again.values())

    # A new active version: exactly one event per agent again.
    moved = await _race(one, two, "sha256:v2")
    assert all(sorted(got) == [False, True] for got in moved.values())
    events = await _drift_events(two)
    assert len(events) == 2 * len(AGENTS)
    assert sorted(e for e in events if e[1] == "to sha256:v2") == sorted(
        (a, "to sha256:v2") for a in AGENTS
    )


async def test_two_replicas_drift_loops_record_one_event_for_a_drifted_agent(
    app_client: ClientFactory, tmp_path: Path
) -> None:
    bundle = worker_bundle(tmp_path / "a")  # heartbeat_interval 0.3 s
    fast = {"bundle_dir": bundle.path, "drift_interval": 0.1, "drift_after_intervals": 1}
    body = agent("w-1", tool("search", "search"), profile="worker", config_version="sha256:old")
    async with app_client(**fast) as one, app_client(**fast) as two:
        await one.post("/heartbeat", json=body)

        async def drift_events() -> list[dict[str, Any]]:
            await two.head("/heartbeat/w-1")  # stay live (and drifted)
            r = await one.get("/events", params={"type": "drift"})
            return list(r.json()["events"])

        (event,) = await eventually(drift_events, timeout=10)
        assert event["agent_id"] == "w-1"
        assert event["detail"].startswith(f"reports sha256:old, active {bundle.version} for ")
