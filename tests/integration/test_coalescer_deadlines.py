"""The coalescer keeps every caller's store deadline, against a real (paused) redis-server.

A batch's round trip is bounded by its leader's deadline, so followers normally need no timer
of their own; a follower whose operation began earlier (an earlier deadline) must still end
by its own deadline, not wait for the leader's.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from support import RedisServer

from service.errors import StoreUnavailable
from service.store.conn import Conn
from service.store.gate import Gate


@pytest.fixture
async def conn(own_redis: RedisServer) -> AsyncIterator[Conn]:
    client = Redis.from_url(own_redis.url)
    c = Conn(client, Gate(size=4, queue=16, timeout=30.0))
    yield c
    await client.aclose()


async def _run(conn: Conn, timeout: float, started: list[str], name: str) -> str:
    """One store operation with its own deadline, ``timeout`` from now."""
    conn.gate.timeout = timeout  # bounded() reads it on entry
    with conn.gate.bounded():
        started.append(name)
        script = conn.client.register_script("return 'ok'")
        return str(await conn.run(script, [], [], batch=True))


async def test_a_follower_with_an_earlier_deadline_ends_by_it(
    conn: Conn, own_redis: RedisServer
) -> None:
    assert own_redis.proc is not None
    await _run(conn, 5.0, [], "warm")  # loads the script, so the batch is a plain pipeline
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        started: list[str] = []
        # Tasks run in creation order in one loop turn: the first leads the batch (30 s
        # deadline), the second joins it as a follower with a 0.3 s deadline.
        leader = asyncio.create_task(_run(conn, 30.0, started, "leader"))
        follower = asyncio.create_task(_run(conn, 0.3, started, "follower"))
        done, _ = await asyncio.wait({leader, follower}, return_when=asyncio.FIRST_COMPLETED)
        assert started == ["leader", "follower"]
        assert done == {follower}, "the follower waited for the leader's deadline"
        with pytest.raises(StoreUnavailable, match="did not answer within"):
            follower.result()
        assert not leader.done()
        leader.cancel()
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    # Redis is back: the same connection pool serves the next batch.
    assert await _run(conn, 5.0, [], "after") == "b'ok'"


async def test_followers_fail_with_their_leader(conn: Conn, own_redis: RedisServer) -> None:
    assert own_redis.proc is not None
    await _run(conn, 5.0, [], "warm")
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        started: list[str] = []
        leader = asyncio.create_task(_run(conn, 0.3, started, "leader"))
        followers = [asyncio.create_task(_run(conn, 30.0, started, f"f{i}")) for i in range(3)]
        results = await asyncio.gather(leader, *followers, return_exceptions=True)
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert started == ["leader", "f0", "f1", "f2"]
    assert all(isinstance(r, StoreUnavailable) for r in results), results
