"""The raw ASGI ``POST /heartbeat`` path answers exactly as the Litestar route does.

A trailing slash takes the routed handler (Litestar strips it), so each case is posted both
ways and must give the same status, headers, body and metrics; a spy on Litestar's HTTP
route shows which requests reached the router.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from agents_data import agent, consumer, provider, tool
from apps import ClientFactory
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from support import RedisServer, start_registry

from service.api import wiring
from service.auth_config import AuthConfig
from service.domain.identity import TokenEntry, token_digest


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every request whose route guard ran (the guards look up
    ``wiring.identity_of`` when called; the fast path never calls it)."""
    seen: list[str] = []
    real = wiring.identity_of

    def spy(connection: Any) -> Any:
        seen.append(connection.url.path)
        return real(connection)

    monkeypatch.setattr(wiring, "identity_of", spy)
    return seen


def _posts(result: str) -> float:
    labels = {"kind": "post", "result": result}
    return REGISTRY.get_sample_value("registry_heartbeats_total", labels) or 0.0


def _shape(r: Any) -> tuple[Any, ...]:
    body: Any = r.content
    if r.headers.get("content-type", "").startswith("application/json"):
        body = {**r.json(), "timestamp": None}
    elif r.content:
        body = {**r.json(), "instance": None}
    return (
        r.status_code,
        sorted(k for k in r.headers if k != "date"),
        r.headers.get("content-type"),
        r.headers.get("retry-after"),
        body,
    )


async def _both(
    client: AsyncTestClient[Any], routed: list[str], body: Any, result: str, **kw: Any
) -> Any:
    """POST ``body`` on the fast path, then on the route: the same answer, one count each."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    if result == "ok":  # registered first, so both answers are refreshes
        await client.post("/heartbeat", content=raw, headers=headers, **kw)
    before = _posts(result)
    routed.clear()
    fast = await client.post("/heartbeat", content=raw, headers=headers, **kw)
    fast_routed = list(routed)
    after_fast = _posts(result)
    slow = await client.post("/heartbeat/", content=raw, headers=headers, **kw)
    assert routed[len(fast_routed) :] == ["/heartbeat"]  # the slash form took the route
    assert _shape(fast) == _shape(slow)
    assert after_fast - before == (1 if result else 0)
    assert _posts(result) - after_fast == (1 if result else 0)
    return fast, fast_routed


async def test_fast_post_matches_the_route_for_registrations_and_refreshes(
    client: AsyncTestClient[Any], routed: list[str]
) -> None:
    await client.post("/heartbeat", json=provider())
    fast, via = await _both(client, routed, provider(), "ok")
    assert fast.status_code == 200 and via == []  # answered without the router
    assert fast.json()["status"] == "success"
    fast, via = await _both(client, routed, consumer(), "ok")
    assert via == [] and fast.json()["dependencies_resolved"]


async def test_bad_bodies_go_to_the_route_and_are_counted_once(
    client: AsyncTestClient[Any], routed: list[str]
) -> None:
    cases = [
        (b'{"agent_id": "greeter-1",', 400),  # malformed JSON
        ({"agent_id": "greeter 1"}, 422),  # a field out of its pattern
        (b'{"agent_id": "g", "name": "\xff"}', 400),  # not UTF-8
    ]
    for body, status in cases:
        fast, via = await _both(client, routed, body, "invalid")
        assert fast.status_code == status and via == ["/heartbeat"]
        assert fast.headers["content-type"].startswith("application/problem+json")
    # Decodes, but the use-case refuses it (kwargs too large once encoded): the fast path
    # answers, and counts it once too.
    big = provider()
    big["tools"][0]["kwargs"] = {"x": "k" * 70_000}
    fast, via = await _both(client, routed, big, "invalid")
    assert fast.status_code == 422 and via == []
    assert fast.json()["field"] == "tools[0].kwargs"


async def test_bodies_over_the_limit_get_the_routes_413(
    app_client: ClientFactory, routed: list[str]
) -> None:
    big = provider()
    big["tools"][0]["description"] = "x" * 3000
    async with app_client(max_body_bytes=2048) as client:
        fast, via = await _both(client, routed, big, "")
        assert fast.status_code == 413 and via == ["/heartbeat"]
        assert (await client.head("/heartbeat/greeter-1")).status_code == 410


async def test_fast_post_runs_the_agent_guard_like_the_route(
    app_client: ClientFactory, routed: list[str]
) -> None:
    token = "tok-team-a"
    entry = TokenEntry(
        subject="team-a", sha256=token_digest(token), scopes=["agent"], agents=["a-*"]
    )
    reader = TokenEntry(subject="ro", sha256=token_digest("tok-ro"), scopes=["read"])
    auth = AuthConfig(mode="token", tokens=(entry, reader))
    async with app_client(auth=auth) as client:
        body = agent("a-1", tool("forecast", "weather"))
        good = {"Authorization": f"Bearer {token}"}
        assert (await client.post("/heartbeat", json=body, headers=good)).status_code == 200
        fast, via = await _both(client, routed, body, "ok", headers=good)
        assert fast.status_code == 200 and via == []
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Bearer tok-ro"}, 403),  # no agent scope
            ({"Authorization": "Bearer wrong"}, 403),
        ]:
            fast, via = await _both(client, routed, body, "", headers=headers)
            assert fast.status_code == status and via == ["/heartbeat"]
        # The agent scope, but not an id this token may speak for: the use-case refuses it.
        other = agent("b-1", tool("forecast", "weather"))
        fast, via = await _both(client, routed, other, "error", headers=good)
        assert fast.status_code == 403 and via == []


async def test_fast_post_answers_an_outage_as_the_route_does(
    app_client: ClientFactory, own_redis: RedisServer, routed: list[str]
) -> None:
    async with app_client(redis_url=own_redis.url, redis_timeout=0.2) as client:
        await client.post("/heartbeat", json=provider())
        own_redis.stop()
        fast, via = await _both(client, routed, provider(), "unavailable")
        assert fast.status_code == 503 and via == []
        assert fast.headers["retry-after"] == "1"


def test_a_chunked_body_over_the_limit_is_replayed_to_the_routes_413(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """No Content-Length (chunked): the fast path reads up to the limit, then hands what it
    read and the rest of the stream to Litestar, which answers 413 as it always did."""
    reg = start_registry(
        tmp_path, REGISTRY_REDIS_URL=redis_server.url, REGISTRY_MAX_BODY_BYTES="2048"
    )
    big = provider()
    big["tools"][0]["description"] = "x" * 3000
    raw = json.dumps(big).encode()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)
        parts = (raw[i : i + 512] for i in range(0, len(raw), 512))
        conn.request(
            "POST", "/heartbeat", parts, {"Content-Type": "application/json"}, encode_chunked=True
        )
        resp = conn.getresponse()
        problem = json.loads(resp.read())
        assert resp.status == 413 and problem["status"] == 413
        assert resp.getheader("content-type", "").startswith("application/problem+json")
        conn.close()
        small = json.dumps(provider()).encode()
        parts = (small[i : i + 64] for i in range(0, len(small), 64))
        conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10)
        conn.request(
            "POST", "/heartbeat", parts, {"Content-Type": "application/json"}, encode_chunked=True
        )
        ok = conn.getresponse()
        assert ok.status == 200 and json.loads(ok.read())["agent_id"] == "greeter-1"
        conn.close()
    finally:
        reg.stop()
