"""The same scripts on a real Redis Cluster: every namespace's keys share one slot."""

from __future__ import annotations

from typing import Any

import pytest
from agents_data import consumer, provider
from apps import FAST
from litestar.testing import AsyncTestClient
from redis.cluster import key_slot
from support import RedisCluster, eventually

from service.app import create_app
from service.settings import Settings
from service.store.keys import Keys

NAMESPACES = ("default", "team-a", "team-b", "team-c")


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    for node in redis_cluster.nodes:
        c = node.client()
        c.flushall()
        c.close()
    return redis_cluster.url


def test_namespaces_spread_over_several_nodes() -> None:
    slots = {key_slot(Keys().ids(ns).encode()) for ns in NAMESPACES}
    assert len(slots) == len(NAMESPACES)


async def test_heartbeats_discovery_and_expiry_on_a_cluster(cluster_url: str) -> None:
    settings = Settings(
        redis_url=cluster_url, redis_mode="cluster", sweep_interval=0.05, thresholds=FAST
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        for ns in NAMESPACES:
            assert (
                await client.post("/heartbeat", json=provider(f"g-{ns}", namespace=ns))
            ).status_code == 200
            body = (
                await client.post(
                    "/heartbeat",
                    json=consumer(f"w-{ns}", namespace=ns, dep={"capability": "greeting"}),
                )
            ).json()
            assert body["dependencies_resolved"]["welcome"][0]["agent_id"] == f"g-{ns}"
        for ns in NAMESPACES:
            assert (await client.head(f"/heartbeat/w-{ns}")).status_code == 200
        listed: Any = (await client.get("/agents")).json()
        assert listed["count"] == 2 * len(NAMESPACES)
        assert (await client.delete("/agents/g-team-a")).status_code == 204
        assert (await client.head("/heartbeat/w-team-a")).status_code == 202
        assert (await client.head("/heartbeat/w-team-b")).status_code == 200

        async def provider_expired() -> bool:
            await client.head("/heartbeat/w-team-b")  # the consumer stays alive
            r = await client.get("/agents/g-team-b/health")
            return r.json()["status"] == "expired"

        await eventually(provider_expired, timeout=10)

        async def consumer_told() -> bool:
            return (await client.head("/heartbeat/w-team-b")).status_code == 202

        await eventually(consumer_told, timeout=10)
        events = (await client.get("/events", params={"type": "expire"})).json()["events"]
        assert {e["agent_id"] for e in events} >= {"g-team-b"}
