"""Redis discipline, proven with INFO commandstats on a real server."""

from __future__ import annotations

from typing import Any

import redis
from agents_data import consumer, provider
from apps import ClientFactory
from support import RedisServer


def _stats(r: redis.Redis) -> dict[str, int]:
    return {name[len("cmdstat_") :]: int(v["calls"]) for name, v in r.info("commandstats").items()}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


async def _measure(redis_server: RedisServer, action: Any, n: int) -> dict[str, int]:
    """Command counts during ``n`` actions; commandstats also counts commands run by scripts."""
    r = redis_server.client()
    try:
        before = _stats(r)
        for _ in range(n):
            await action()
        after = _stats(r)
    finally:
        r.close()
    delta = _delta(before, after)
    delta["info"] -= 1  # the INFO that took the first snapshot
    return {k: v for k, v in delta.items() if v}


def _per_call(calls: dict[str, int], n: int) -> dict[str, float]:
    return {k: v / n for k, v in calls.items()}


async def test_steady_state_head_is_one_evalsha(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    async with app_client(sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider())
        await client.post("/heartbeat", json=consumer())
        await client.head("/heartbeat/welcomer-1")  # warm: script loaded, namespace cached

        async def head() -> None:
            assert (await client.head("/heartbeat/welcomer-1")).status_code == 200

        calls = await _measure(redis_server, head, 50)
        # Exactly one EVALSHA per HEAD; everything else is what touch.lua runs inside it.
        # No other command arrived from the client, since each count is an exact multiple.
        assert _per_call(calls, 50) == {
            "evalsha": 1,
            "get": 1,
            "pttl": 1,
            "pexpire": 2,
            "time": 1,
            "zadd": 1,
            "hmget": 1,
        }


async def test_steady_state_post_is_one_evalsha(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    async with app_client(sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider())
        await client.post("/heartbeat", json=consumer())

        async def post() -> None:
            body = (await client.post("/heartbeat", json=consumer())).json()
            assert body["dependencies_resolved"]["welcome"][0]["status"] == "available"

        calls = await _measure(redis_server, post, 50)
        # One EVALSHA; the rest is heartbeat.lua's own work for an unchanged consumer with one
        # live provider: read old record and liveness, rewrite both, fetch the candidate, and
        # read the agent's runtime capability assignment (the third GET).
        assert _per_call(calls, 50) == {
            "evalsha": 1,
            "get": 3,
            "exists": 1,
            "time": 1,
            "hmget": 1,
            "set": 2,
            "zadd": 2,
            "srem": 2,
            "hgetall": 1,
            "pttl": 1,
        }


async def test_reads_never_scan(app_client: ClientFactory, redis_server: RedisServer) -> None:
    async with app_client(sweep_interval=3600) as client:
        for i in range(5):
            await client.post("/heartbeat", json=provider(f"greeter-{i}"))

        async def read() -> None:
            for path in (
                "/agents",
                "/capabilities",
                "/capabilities/greeting/providers",
                "/agents/greeter-1",
                "/events",
                "/registry/metrics",
            ):
                assert (await client.get(path)).status_code == 200

        calls = await _measure(redis_server, read, 3)
        assert calls  # the reads did reach Redis
        assert not {"keys", "scan", "hscan", "sscan", "zscan"} & calls.keys()
