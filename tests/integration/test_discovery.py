"""Listing, filters, cursor pagination, ETags, long-poll and events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from agents_data import agent, provider, tool
from litestar.testing import AsyncTestClient
from support import start_registry


async def _all_pages(client: AsyncTestClient[Any], path: str, key: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(path, params=query)).json()
        items.extend(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not terminate")


async def test_agents_pagination_visits_every_agent_once(client: AsyncTestClient[Any]) -> None:
    ids = [f"agent-{i:03d}" for i in range(23)]
    for i, agent_id in enumerate(ids):
        ns = "default" if i % 3 else "blue"
        await client.post("/heartbeat", json=provider(agent_id, namespace=ns))
    first = (await client.get("/agents", params={"limit": 5})).json()
    assert first["count"] == 5 and first["next_cursor"]
    seen = [a["id"] for a in await _all_pages(client, "/agents", "agents", limit=5)]
    assert sorted(seen) == ids
    assert len(seen) == len(set(seen))
    blue = await _all_pages(client, "/agents", "agents", limit=4, namespace="blue")
    assert sorted(a["id"] for a in blue) == ids[::3]


async def test_agents_filters(client: AsyncTestClient[Any]) -> None:
    await client.post("/heartbeat", json=provider("a-1", version="1.2.0", tags=["english", "gpu"]))
    await client.post("/heartbeat", json=provider("a-2", version="2.0.0", tags=["french"]))
    await client.post("/heartbeat", json=agent("w-1", tool("forecast", "weather")))

    async def ids(**params: Any) -> list[str]:
        return sorted(a["id"] for a in await _all_pages(client, "/agents", "agents", **params))

    assert await ids(capability="greeting") == ["a-1", "a-2"]
    assert await ids(capability="greeting", version="^1.0") == ["a-1"]
    assert await ids(tag="gpu") == ["a-1"]
    assert await ids(tag="-gpu", capability="greeting") == ["a-2"]
    assert await ids(status="healthy") == ["a-1", "a-2", "w-1"]
    assert await ids(status="expired") == []
    bad = await client.get("/agents", params={"version": ">>1"})
    assert bad.status_code == 422 and bad.json()["field"] == "version"
    bad = await client.get("/agents", params={"status": "sleepy"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    bad = await client.get("/agents", params={"cursor": "!!!"})
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


async def test_providers_pagination_filters_and_etag(client: AsyncTestClient[Any]) -> None:
    for i in range(7):
        await client.post(
            "/heartbeat", json=provider(f"g-{i}", tags=["english"] if i % 2 else ["french"])
        )
    pages = await _all_pages(client, "/capabilities/greeting/providers", "providers", limit=3)
    assert [p["agent_id"] for p in pages] == [f"g-{i}" for i in range(7)]
    english = await _all_pages(
        client, "/capabilities/greeting/providers", "providers", tag="english"
    )
    assert [p["agent_id"] for p in english] == ["g-1", "g-3", "g-5"]

    r = await client.get("/capabilities/greeting/providers")
    etag = r.headers["etag"]
    again = await client.get("/capabilities/greeting/providers", headers={"If-None-Match": etag})
    assert again.status_code == 304
    await client.post("/heartbeat", json=provider("g-9"))
    changed = await client.get("/capabilities/greeting/providers", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag

    caps = (await client.get("/capabilities")).json()["capabilities"]
    assert [(c["name"], c["providers"]) for c in caps] == [("greeting", 8)]


async def test_long_poll_returns_when_providers_change(tmp_path: Path, redis_url: str) -> None:
    # Real server processes: the in-process test client cannot serve concurrent requests.
    a = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    b = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    try:
        async with httpx.AsyncClient(base_url=a.url) as ca, httpx.AsyncClient(base_url=b.url) as cb:
            await ca.post("/heartbeat", json=provider("g-1"))
            etag = (await ca.get("/capabilities/greeting/providers")).headers["etag"]
            waiter = asyncio.create_task(
                ca.get(
                    "/capabilities/greeting/providers",
                    params={"index": etag, "wait": "20s"},
                    timeout=30,
                )
            )
            await asyncio.sleep(0.5)  # let the long-poll block before the change it waits for
            assert not waiter.done()
            await cb.post("/heartbeat", json=provider("g-2"))
            r = await asyncio.wait_for(waiter, timeout=10)
            assert r.status_code == 200 and r.headers["etag"] != etag
            assert [p["agent_id"] for p in r.json()["providers"]] == ["g-1", "g-2"]
    finally:
        a.stop()
        b.stop()


async def test_events_filter_by_type_agent_and_time(client: AsyncTestClient[Any]) -> None:
    await client.post("/heartbeat", json=provider("g-1"))
    await client.post("/heartbeat", json=provider("g-2"))
    await client.post("/heartbeat", json=provider("g-1", port=9999))
    await client.delete("/agents/g-2")
    events = (await client.get("/events")).json()["events"]
    assert [(e["type"], e["agent_id"]) for e in events] == [
        ("register", "g-1"),
        ("register", "g-2"),
        ("update", "g-1"),
        ("unregister", "g-2"),
    ]
    only = (await client.get("/events", params={"type": "unregister"})).json()["events"]
    assert [e["agent_id"] for e in only] == ["g-2"]
    mine = (await client.get("/events", params={"agent_id": "g-1"})).json()["events"]
    assert [e["type"] for e in mine] == ["register", "update"]
    later = (await client.get("/events", params={"since": events[-1]["timestamp"]})).json()
    assert events[-1]["id"] in [e["id"] for e in later["events"]]
    paged = await _all_pages(client, "/events", "events", limit=1)
    assert [e["id"] for e in paged] == [e["id"] for e in events]
    bad = await client.get("/events", params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["field"] == "since"


async def test_if_none_match_is_answered_from_the_change_index_without_reading_providers(
    app_client: Any,
) -> None:
    async with app_client(sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider("g-1"))
        path = "/capabilities/greeting/providers"
        first = await client.get(path)
        etag, index = first.headers["etag"], first.headers["x-registry-index"]
        store = client.app.state.registry.store
        reads = [0]
        real, real_indexed = store.providers, store.providers_indexed

        async def counted(*args: Any, **kwargs: Any) -> Any:
            reads[0] += 1
            return await real(*args, **kwargs)

        async def counted_indexed(*args: Any, **kwargs: Any) -> Any:
            reads[0] += 1
            return await real_indexed(*args, **kwargs)

        store.providers, store.providers_indexed = counted, counted_indexed
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["x-registry-index"] == index
        assert reads == [0]  # one small index read; no providers read, nothing rendered
        # Another query is another answer: its own ETag.
        other = await client.get(path, params={"tag": "prod"}, headers={"If-None-Match": etag})
        assert other.status_code == 200
        await client.post("/heartbeat", json=provider("g-2"))
        changed = await client.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["x-registry-index"] != index
        assert [p["agent_id"] for p in changed.json()["providers"]] == ["g-1", "g-2"]


async def test_capabilities_page_is_one_script_call_whatever_the_number_of_capabilities(
    app_client: Any, redis_server: Any
) -> None:
    async with app_client(sweep_interval=3600) as client:
        for i in range(12):
            await client.post("/heartbeat", json=agent(f"p-{i}", tool(f"fn{i}", f"cap-{i:02d}")))
        await client.get("/capabilities")  # the scripts are loaded from here on
        r = redis_server.client()
        r.config_resetstat()
        first = await client.get("/capabilities", params={"limit": 5})
        body = first.json()
        stats = r.info("commandstats")
        r.close()
        assert [c["name"] for c in body["capabilities"]] == [f"cap-{i:02d}" for i in range(5)]
        # The page and its change index: one EVALSHA, nothing else from the client.
        assert stats["cmdstat_evalsha"]["calls"] == 1
        assert "cmdstat_zrange" not in stats or stats["cmdstat_zrange"]["calls"] == 1
        # A caller holding that answer: the index read alone (one EVALSHA), and a 304.
        held = {"If-None-Match": first.headers["etag"]}
        await client.get("/capabilities", params={"limit": 5}, headers=held)  # loads the script
        r = redis_server.client()
        r.config_resetstat()
        again = await client.get(
            "/capabilities", params={"limit": 5}, headers={"If-None-Match": first.headers["etag"]}
        )
        stats = r.info("commandstats")
        r.close()
        assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
        assert stats["cmdstat_evalsha"]["calls"] == 1
