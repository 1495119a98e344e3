"""The raw ASGI ``HEAD /heartbeat/{id}`` path answers exactly as the Litestar route does.

A trailing slash takes the routed handler (the fast path only takes one plain segment), so
each case is asked both ways and must give the same status, headers and metrics.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents_data import agent, consumer, provider, tool
from apps import ClientFactory
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from support import RedisServer

from service.auth_config import AuthConfig
from service.domain.identity import TokenEntry, token_digest


def _heads(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "registry_heartbeats_total", {"kind": "head", "result": result}
    )
    return value or 0.0


def _shape(r: Any) -> tuple[int, str | None, str | None, str | None, bytes]:
    h = r.headers
    return (
        r.status_code,
        h.get("content-type"),
        h.get("content-length"),
        h.get("retry-after"),
        r.content,
    )


async def _both(client: AsyncTestClient[Any], agent_id: str, result: str) -> int:
    """HEAD ``agent_id`` on the fast path and on the route; same answer, one count each."""
    before = _heads(result)
    fast = await client.head(f"/heartbeat/{agent_id}")
    after_fast = _heads(result)
    routed = await client.head(f"/heartbeat/{agent_id}/")
    assert _shape(fast) == _shape(routed)
    assert after_fast - before == 1
    assert _heads(result) - after_fast == 1
    return int(fast.status_code)


async def test_fast_head_matches_the_route_for_200_202_410_and_400(
    client: AsyncTestClient[Any],
) -> None:
    await client.post("/heartbeat", json=provider())
    await client.post("/heartbeat", json=consumer())
    assert await _both(client, "greeter-1", "ok") == 200
    await client.post("/heartbeat", json=provider(port=9555))  # the consumer's provider moved
    assert await _both(client, "welcomer-1", "changed") == 202
    assert await _both(client, "nobody", "gone") == 410
    assert await _both(client, "bad%20id", "invalid") == 400


async def test_fast_head_matches_the_route_for_503_during_an_outage(
    app_client: ClientFactory, own_redis: RedisServer
) -> None:
    async with app_client(redis_url=own_redis.url, redis_timeout=0.2) as client:
        await client.post("/heartbeat", json=provider())
        own_redis.stop()
        assert await _both(client, "greeter-1", "unavailable") == 503


async def test_fast_head_leaves_other_paths_and_methods_to_the_router(
    client: AsyncTestClient[Any],
) -> None:
    await client.post("/heartbeat", json=provider())
    assert (await client.head("/heartbeat/greeter-1/extra")).status_code == 404
    assert (await client.head("/heartbeat/")).status_code == 405
    assert (await client.get("/heartbeat/greeter-1")).status_code == 405
    assert (await client.head("/health/live")).status_code == 200


async def test_concurrent_heads_share_pipelines_and_each_gets_its_own_answer(
    app_client: ClientFactory, redis_server: RedisServer
) -> None:
    r = redis_server.client()
    ids = ["greeter-1", "nobody", *(["greeter-1", "ghost"] * 40)]
    async with app_client(sweep_interval=3600) as client:  # no sweeper EVALSHA in the count
        await client.post("/heartbeat", json=provider())
        await client.head("/heartbeat/greeter-1")  # the touch script is loaded from here on
        r.config_resetstat()
        answers = await asyncio.gather(*(client.head(f"/heartbeat/{i}") for i in ids))
    want = [200 if i == "greeter-1" else 410 for i in ids]
    assert [a.status_code for a in answers] == want
    stats = r.info("commandstats")
    r.close()
    # One EVALSHA per HEAD (a GONE also looks the agent up once in the locator).
    assert stats["cmdstat_evalsha"]["calls"] == len(ids)


async def test_fast_head_runs_the_agent_guard_like_the_route(app_client: ClientFactory) -> None:
    token = "tok-team-a"
    entry = TokenEntry(
        subject="team-a", sha256=token_digest(token), scopes=["agent"], agents=["a-*"]
    )
    auth = AuthConfig(mode="token", tokens=(entry,))
    bearer = {"Authorization": f"Bearer {token}"}
    async with app_client(auth=auth) as client:
        body = agent("a-1", tool("forecast", "weather"))
        assert (await client.post("/heartbeat", json=body, headers=bearer)).status_code == 200
        cases = [
            ("a-1", bearer, 200),
            ("a-1", {}, 401),  # no credentials
            ("b-1", bearer, 403),  # not an id this token may speak for
            ("a-1", {"Authorization": "Bearer wrong"}, 403),
        ]
        for agent_id, headers, want in cases:
            fast = await client.head(f"/heartbeat/{agent_id}", headers=headers)
            routed = await client.head(f"/heartbeat/{agent_id}/", headers=headers)
            assert _shape(fast) == _shape(routed)  # problems: the same length too
            assert fast.status_code == want
