"""Every Redis call is bounded: a paused Redis gives quick 503s, never a hang or a 410."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
from agents_data import provider
from support import RedisServer, start_registry

TIMEOUT_S = 0.3


async def test_paused_redis_answers_503_within_the_timeout_and_pool_never_overflows(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    proc = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=own_redis.url,
        REGISTRY_REDIS_TIMEOUT=str(TIMEOUT_S),
        REGISTRY_REDIS_POOL_SIZE="4",
        REGISTRY_LOG_LEVEL="warning",
    )
    assert own_redis.proc is not None
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as http:
            assert (await http.post("/heartbeat", json=provider())).status_code == 200
            os.kill(own_redis.proc.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()

                async def beat() -> tuple[int, float]:
                    t0 = time.monotonic()
                    r = await http.head("/heartbeat/greeter-1")
                    return r.status_code, time.monotonic() - t0

                # Many more concurrent heartbeats than pooled connections.
                results = await asyncio.gather(*(beat() for _ in range(40)))
                took = time.monotonic() - started
            finally:
                os.kill(own_redis.proc.pid, signal.SIGCONT)
            statuses = {s for s, _ in results}
            assert statuses == {503}, results
            # Each waits at most one timeout for a connection, one for the reply, one retry.
            assert max(d for _, d in results) < 4 * TIMEOUT_S + 1.0, results
            assert took < 10
            # Redis is back: heartbeats succeed again, nobody was told to re-register.
            deadline = time.monotonic() + 10
            while (await http.head("/heartbeat/greeter-1")).status_code != 200:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
    finally:
        proc.stop()
    assert "Too many connections" not in proc.log.read_text()
