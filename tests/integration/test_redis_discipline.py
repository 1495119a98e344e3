"""Redis discipline: round trips counted with MONITOR on a real server.

MONITOR lists what clients send separately from what scripts run inside (``[0 lua]``), so
these tests count round trips and keep passing whatever a script does inside its one call.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agents_data import consumer, provider
from apps import ClientFactory
from support import Monitor, RedisServer

from service.store.scripts import Scripts, source

N = 20


def _sha(name: str) -> str:
    import hashlib

    return hashlib.sha1(source(name).encode()).hexdigest()


async def _round_trips(redis_server: RedisServer, action: Any, n: int) -> Counter[str]:
    """What clients sent during ``n`` actions: command name, plus the script for EVALSHA."""
    scripts = {_sha(name): name for name in Scripts.names()}
    async with Monitor(redis_server.port) as mon:
        await mon.settle()
        mon.clear()
        for _ in range(n):
            await action()
        await mon.settle()
    return Counter(
        f"evalsha {scripts.get(c[1], c[1])}" if c[0] == "evalsha" else c[0] for c in mon.commands
    )


async def test_steady_state_head_is_one_round_trip(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    async with app_client(sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider())
        await client.post("/heartbeat", json=consumer())
        await client.head("/heartbeat/welcomer-1")  # warm: script loaded

        async def head() -> None:
            assert (await client.head("/heartbeat/welcomer-1")).status_code == 200

        sent = await _round_trips(redis_server, head, N)
        assert sent == {"evalsha touch": N}


async def test_steady_state_post_is_one_round_trip(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    async with app_client(sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider())
        await client.post("/heartbeat", json=consumer())

        async def post() -> None:
            body = (await client.post("/heartbeat", json=consumer())).json()
            assert body["dependencies_resolved"]["welcome"][0]["status"] == "available"

        sent = await _round_trips(redis_server, post, N)
        assert sent == {"evalsha heartbeat": N}


async def test_head_outside_the_default_namespace_is_one_round_trip_once_located(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    async with app_client(sweep_interval=3600) as one, app_client(sweep_interval=3600) as two:
        await one.post("/heartbeat", json=provider("g-1", namespace="team-a"))
        # ``two`` never saw the agent: its first HEAD guesses, then reads the locator.
        assert (await two.head("/heartbeat/g-1")).status_code == 200

        async def head() -> None:
            assert (await two.head("/heartbeat/g-1")).status_code == 200

        assert await _round_trips(redis_server, head, N) == {"evalsha touch": N}


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

        sent = await _round_trips(redis_server, read, 3)
        assert sent  # the reads did reach Redis
        assert not {"keys", "scan", "hscan", "sscan", "zscan"} & sent.keys()
