"""The raw ASGI 304 path for discovery revalidations answers as the routed handler does.

A trailing slash takes the routed handler (which strips it: both forms are one answer, with
one ETag), so each case is asked both ways: the same status, headers and metrics, and only
the fast form skips the router, which a spy on the routed handler's ``conditional`` shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from agents_data import provider
from apps import ClientFactory
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from support import RedisServer

from service.api import capabilities
from service.api.fast_304 import TEMPLATES
from service.auth_config import AuthConfig
from service.domain.identity import TokenEntry, token_digest

PATHS = [
    ("/capabilities", TEMPLATES["list"]),
    ("/capabilities/greeting/providers", TEMPLATES["providers"]),
]


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the routed handler answered (it calls ``conditional`` by module name)."""
    seen: list[str] = []
    real = capabilities.conditional

    async def spy(request: Any, *args: Any) -> Any:
        seen.append(request.url.path)
        return await real(request, *args)

    monkeypatch.setattr(capabilities, "conditional", spy)
    return seen


def _count(template: str, status: int) -> float:
    labels = {"method": "GET", "path": template, "status_code": str(status)}
    value = REGISTRY.get_sample_value(
        "litestar_requests_total", {**labels, "app_name": "agent_registry"}
    )
    return value or 0.0


def _shape(r: Any) -> tuple[Any, ...]:
    h = r.headers
    names = sorted(k for k in h if k != "date")
    return (
        r.status_code,
        names,
        h.get("cache-control"),
        h.get("etag"),
        h.get("x-registry-index"),
        r.content,
    )


async def _revalidate(client: AsyncTestClient[Any], path: str, **kw: Any) -> Any:
    """GET ``path``, then again with its ETag."""
    first = await client.get(path, **kw)
    assert first.status_code == 200, first.text
    headers = {**kw.pop("headers", {}), "If-None-Match": first.headers["etag"]}
    return await client.get(path, headers=headers, **kw)


async def test_a_revalidation_skips_the_router_with_the_routed_answer_and_metrics(
    client: AsyncTestClient[Any], routed: list[str]
) -> None:
    await client.post("/heartbeat", json=provider())
    for path, template in PATHS:
        for params in ({}, {"namespace": "default"}):
            before = _count(template, 304)
            routed.clear()
            fast = await _revalidate(client, path, params=params)
            assert routed == [path]  # only the first, full answer was routed
            assert _count(template, 304) - before == 1
            routed.clear()
            slow = await _revalidate(client, path + "/", params=params)
            assert routed == [path] * 2
            assert _count(template, 304) - before == 2  # the same labels both ways
            assert fast.status_code == 304
            assert _shape(fast) == _shape(slow)


async def test_a_changed_index_and_other_queries_get_the_full_routed_answer(
    client: AsyncTestClient[Any], routed: list[str]
) -> None:
    await client.post("/heartbeat", json=provider("g-1"))
    path = "/capabilities/greeting/providers"
    etag = (await client.get(path)).headers["etag"]
    await client.post("/heartbeat", json=provider("g-2"))
    routed.clear()
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and routed == [path]
    assert [p["agent_id"] for p in changed.json()["providers"]] == ["g-1", "g-2"]
    held = {"If-None-Match": changed.headers["etag"]}
    for query, status in [
        ("tag=prod", 200),  # another query: another answer, with its own ETag
        ("namespace=Bad_NS", 400),  # the route names the parameter
        ("namespace=%64efault", 200),  # escaped: the route decodes it
        ("namespace=default&namespace=x", 200),
    ]:
        routed.clear()
        answer = await client.get(f"{path}?{query}", headers=held)
        assert answer.status_code == status, query
        assert routed == ([path] if status != 400 else [])
        if status == 400:
            assert answer.json()["field"] == "namespace"
    bad_name = await client.get("/capabilities/gr%20eeting/providers", headers=held)
    assert bad_name.status_code == 400 and bad_name.json()["field"] == "name"


async def test_the_fast_path_runs_the_read_guard_like_the_route(
    app_client: ClientFactory, routed: list[str]
) -> None:
    token = "tok-reader"
    entry = TokenEntry(subject="reader", sha256=token_digest(token), scopes=["read"])
    agent_token = "tok-agent"
    agent = TokenEntry(subject="agents", sha256=token_digest(agent_token), scopes=["agent"])
    auth = AuthConfig(mode="token", tokens=(entry, agent))
    reader = {"Authorization": f"Bearer {token}"}
    async with app_client(auth=auth) as client:
        body = provider()
        beat = {"Authorization": f"Bearer {agent_token}"}
        assert (await client.post("/heartbeat", json=body, headers=beat)).status_code == 200
        for path, _ in PATHS:
            etag = (await client.get(path, headers=reader)).headers["etag"]
            for headers, want in [
                (reader, 304),
                (beat, 304),  # the agent scope may read too
                ({}, 403),  # anonymous, in token mode
                ({"Authorization": "Bearer wrong"}, 403),
            ]:
                routed.clear()
                fast = await client.get(path, headers={**headers, "If-None-Match": etag})
                slow = await client.get(path + "/", headers={**headers, "If-None-Match": etag})
                assert fast.status_code == want
                assert _shape(fast) == _shape(slow) or want != 304
                if want != 304:
                    # Refused: the route answers, with the problem it always gave.
                    assert routed == [] and fast.json()["status"] == want
                    assert fast.json() | {"instance": None} == slow.json() | {"instance": None}
                else:
                    assert routed == [path]


async def test_the_fast_path_answers_an_outage_as_the_route_does(
    app_client: ClientFactory, own_redis: RedisServer, routed: list[str]
) -> None:
    async with app_client(redis_url=own_redis.url, redis_timeout=0.2) as client:
        await client.post("/heartbeat", json=provider())
        path = "/capabilities/greeting/providers"
        etag = (await client.get(path)).headers["etag"]
        own_redis.stop()
        before = _count(TEMPLATES["providers"], 503)
        routed.clear()
        fast = await client.get(path, headers={"If-None-Match": etag})
        assert routed == [] and _count(TEMPLATES["providers"], 503) - before == 1
        slow = await client.get(path + "/", headers={"If-None-Match": etag})
        assert routed == [path] and _count(TEMPLATES["providers"], 503) - before == 2
        assert fast.status_code == slow.status_code == 503
        assert fast.headers["retry-after"] == slow.headers["retry-after"] == "1"
        assert fast.headers["content-type"] == slow.headers["content-type"]
        assert fast.json() | {"instance": None} == slow.json() | {"instance": None}
