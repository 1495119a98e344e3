"""Stored values that do not decode, written straight into a real redis-server: every read
path skips them and answers for everyone else (never a 500), counts them
(``registry_corrupt_records_total``), records each once as a ``corrupt`` event, and the
agent's own next full heartbeat rewrites them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from agents_data import agent, consumer, provider, tool
from apps import FAST, ClientFactory
from config_bundles import worker, worker_bundle
from litestar.testing import AsyncTestClient
from mcp_client import call, mcp_session
from prometheus_client import REGISTRY
from support import RedisServer, eventually, start_registry

from service.models import HeartbeatRequest
from service.settings import Thresholds
from service.store.keys import Keys
from service.store.results import NotOwner
from service.store.store import Store

NS = "default"
TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
FORECAST = {"capabilities": [{"name": "forecast", "version": "1.0.0"}]}
KEYS = Keys()  # the default REGISTRY_KEY_PREFIX, as the app uses
DEEP = b"[" * 20_000 + b"]" * 20_000  # past cjson's depth limit and Python's recursion limit

# Each way a value goes bad, applied to the value that is there.
SPOIL: dict[str, Callable[[bytes], bytes]] = {
    "invalid-json": lambda v: v[: len(v) // 2],
    "wrong-shape": lambda v: b'{"id": 7, "prov": "nope"}' if v.startswith(b"{") else b"[1, 2]",
    "deep": lambda v: v[:-1] + (b',"z":' if v.startswith(b"{") else b",") + DEEP + v[-1:],
    "invalid-utf8": lambda v: v.replace(b"1.0.0", b"1.\xff.0", 1),
}


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def victim() -> dict[str, Any]:
    return agent("victim-1", tool("hello", "hello"), port=9005)


async def _spoil_doc(raw: aioredis.Redis, agent_id: str, how: str) -> None:
    key = KEYS.doc(NS, agent_id)
    await raw.set(key, SPOIL[how](await raw.get(key)), keepttl=True)


async def _spoil_entry(raw: aioredis.Redis, cap: str, field: str, how: str) -> None:
    key = KEYS.providers(NS, cap)
    await raw.hset(key, field, SPOIL[how](await raw.hget(key, field)))


def _count(kind: str) -> float:
    return REGISTRY.get_sample_value("registry_corrupt_records_total", {"kind": kind}) or 0.0


async def _corrupt_events(c: AsyncTestClient[Any]) -> list[tuple[str, str]]:
    r = await c.get("/events", params={"type": "corrupt"})
    assert r.status_code == 200, r.text
    return sorted((e["agent_id"], e["detail"]) for e in r.json()["events"])


async def _ok(c: AsyncTestClient[Any], method: str, path: str, **kw: Any) -> Any:
    r = await c.request(method, path, **kw)
    assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


async def _read_everything(c: AsyncTestClient[Any]) -> None:
    """Every read path over the spoiled namespace: each answers 200 for the healthy agents."""
    listed = await _ok(c, "GET", "/agents")
    assert sorted(a["id"] for a in listed["agents"]) == ["greeter-1", "greeter-2", "welcomer-1"]
    filtered = await _ok(c, "GET", "/agents", params={"capability": "hello"})
    assert filtered["agents"] == []  # its one provider's record does not decode
    assert (await _ok(c, "GET", "/agents/greeter-1"))["status"] == "healthy"
    assert (await c.get("/agents/victim-1")).status_code == 404  # unreadable, not a 500
    caps = {
        x["name"]: x["providers"] for x in (await _ok(c, "GET", "/capabilities"))["capabilities"]
    }
    assert caps == {"greeting": 1, "hello": 1, "welcome": 1}  # greeter-2's entry is skipped
    providers = await _ok(c, "GET", "/capabilities/greeting/providers")
    assert [p["agent_id"] for p in providers["providers"]] == ["greeter-1"]
    assert "profiles" in await _ok(c, "GET", "/drift")
    assert (await _ok(c, "GET", "/registry/metrics"))["agents"]["total"] == 4
    assert (await c.get("/metrics")).status_code == 200
    await _ok(c, "GET", "/events")
    wired = await _ok(c, "POST", "/heartbeat", json=consumer())
    (slot,) = wired["dependencies_resolved"]["welcome"]
    assert slot["agent_id"] == "greeter-1"  # greeter-2's undecodable entry is skipped
    for page in ("/ui/agents", "/ui/agents/welcomer-1", "/ui/capabilities", "/ui/drift"):
        assert (await c.get(page)).status_code == 200, page
    assert (await c.get("/ui/capabilities/greeting")).status_code == 200


@pytest.mark.parametrize("how", sorted(SPOIL))
async def test_reads_skip_undecodable_values_count_and_record_them_once_and_heal(
    app_client: ClientFactory, raw: aioredis.Redis, how: str
) -> None:
    async with app_client() as one, app_client() as two:
        for body in (provider("greeter-1"), provider("greeter-2", port=9003), victim()):
            await _ok(one, "POST", "/heartbeat", json=body)
        await _ok(one, "POST", "/heartbeat", json=consumer())
        await _spoil_doc(raw, "victim-1", how)
        await _spoil_entry(raw, "greeting", "greeter-2:greet", how)
        docs, entries = _count("doc"), _count("entry")

        for c in (one, two, one, two):  # two replicas, each reading twice
            await _read_everything(c)

        assert _count("doc") >= docs + 4 and _count("entry") >= entries + 4
        counted = (await _ok(one, "GET", "/registry/metrics"))["replica"]["corrupt_records"]
        assert counted["kind=doc"] == _count("doc") and counted["kind=entry"] == _count("entry")
        events = await _corrupt_events(one)
        assert [(a, d.split(" does not decode")[0]) for a, d in events] == [
            ("greeter-2", f"entry {KEYS.providers(NS, 'greeting')} greeter-2:greet"),
            ("victim-1", f"doc {KEYS.doc(NS, 'victim-1')}"),
        ]

        # Their agents are asked for a full heartbeat; the healthy ones are not.
        assert (await one.head("/heartbeat/victim-1")).status_code == 202
        assert (await one.head("/heartbeat/greeter-2")).status_code == 202
        assert (await one.head("/heartbeat/greeter-1")).status_code == 200

        # That heartbeat rewrites both values: they read back, and the skipping stops.
        await _ok(two, "POST", "/heartbeat", json=victim())
        await _ok(two, "POST", "/heartbeat", json=provider("greeter-2", port=9003))
        assert (await _ok(one, "GET", "/agents/victim-1"))["endpoint"] == "http://127.0.0.1:9005"
        providers = await _ok(one, "GET", "/capabilities/greeting/providers")
        assert [p["agent_id"] for p in providers["providers"]] == ["greeter-1", "greeter-2"]
        docs, entries = _count("doc"), _count("entry")
        assert len((await _ok(one, "GET", "/agents"))["agents"]) == 4
        await _ok(one, "POST", "/heartbeat", json=consumer())
        assert (_count("doc"), _count("entry")) == (docs, entries)

        # Spoiled again, differently: one more event, for that value only.
        await raw.set(KEYS.doc(NS, "victim-1"), b"\x00garbage", keepttl=True)
        for c in (one, two):
            await _ok(c, "GET", "/agents")
        again = await _corrupt_events(two)
        assert len(again) == 3 and [a for a, _ in again].count("victim-1") == 2


async def test_the_sweeper_expires_and_purges_around_an_undecodable_record(
    app_client: ClientFactory, raw: aioredis.Redis
) -> None:
    errors = REGISTRY.get_sample_value("registry_store_errors_total") or 0.0
    async with app_client(thresholds=FAST, sweep_interval=0.05) as c:
        await _ok(c, "POST", "/heartbeat", json=victim())
        await _ok(c, "POST", "/heartbeat", json=provider("greeter-1"))
        await _spoil_doc(raw, "victim-1", "deep")

        async def gone() -> list[tuple[str, str]]:
            r = await _ok(c, "GET", "/events", params={"type": ["expire", "purge"]})
            seen = sorted((e["agent_id"], e["type"]) for e in r["events"])
            return seen if len(seen) == 4 else []

        assert await eventually(gone) == [
            ("greeter-1", "expire"),
            ("greeter-1", "purge"),
            ("victim-1", "expire"),
            ("victim-1", "purge"),
        ]
        # The undecodable record's entries went too, found by its agent id.
        assert await raw.exists(KEYS.providers(NS, "hello")) == 0
        assert await raw.zrange(KEYS.capindex(NS), 0, -1) == []
    assert (REGISTRY.get_sample_value("registry_store_errors_total") or 0.0) == errors


async def test_unregistering_an_undecodable_record_drops_its_entries_for_good(
    app_client: ClientFactory, raw: aioredis.Redis
) -> None:
    async with app_client() as c:
        await _ok(c, "POST", "/heartbeat", json=victim())
        await _spoil_doc(raw, "victim-1", "wrong-shape")
        assert (await c.delete("/agents/victim-1")).status_code == 204
        assert await raw.exists(KEYS.providers(NS, "hello")) == 0
        # Registering again with another function: the old entry does not come back.
        await _ok(c, "POST", "/heartbeat", json=agent("victim-1", tool("hi", "hi"), port=9005))
        assert (await _ok(c, "GET", "/capabilities/hello/providers"))["providers"] == []
        assert (await _ok(c, "GET", "/agents/victim-1"))["capabilities"][0]["name"] == "hi"


async def test_undecodable_liveness_timers_are_dropped_and_the_agent_registers_again(
    app_client: ClientFactory, raw: aioredis.Redis
) -> None:
    async with app_client() as c:
        await _ok(c, "POST", "/heartbeat", json=provider("greeter-1"))
        await _ok(c, "POST", "/heartbeat", json=provider("greeter-2", port=9003))
        await raw.hset(KEYS.live(NS, "greeter-2"), "t", "soon")
        providers = await _ok(c, "GET", "/capabilities/greeting/providers")
        assert [p["agent_id"] for p in providers["providers"]] == ["greeter-1"]
        assert (await c.head("/heartbeat/greeter-2")).status_code == 410
        await _ok(c, "POST", "/heartbeat", json=provider("greeter-2", port=9003))
        providers = await _ok(c, "GET", "/capabilities/greeting/providers")
        assert [p["agent_id"] for p in providers["providers"]] == ["greeter-1", "greeter-2"]


async def test_an_event_that_is_not_utf8_is_shown_replaced(
    client: AsyncTestClient[Any], raw: aioredis.Redis
) -> None:
    await _ok(client, "POST", "/heartbeat", json=provider("greeter-1"))
    await raw.xadd(KEYS.events(NS), {"t": "update", "a": "greeter-1", "d": b"bad \xff byte"})
    events = (await _ok(client, "GET", "/events", params={"agent_id": "greeter-1"}))["events"]
    assert [e["detail"] for e in events] == ["", "bad \ufffd byte"]


async def test_mcp_tools_skip_undecodable_values(
    redis_server: RedisServer, redis_url: str, raw: aioredis.Redis, tmp_path: Path
) -> None:
    proc = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    try:
        async with (
            httpx.AsyncClient(base_url=proc.url, timeout=10) as http,
            mcp_session(proc.url) as session,
        ):
            for body in (provider("greeter-1"), provider("greeter-2", port=9003), victim()):
                assert (await http.post("/heartbeat", json=body)).status_code == 200
            await _spoil_doc(raw, "victim-1", "invalid-json")
            await _spoil_entry(raw, "greeting", "greeter-2:greet", "deep")

            result = await session.call_tool("agent_heartbeat", consumer())
            assert not result.is_error, result.content
            wired = result.structured_content or {}
            assert wired["dependencies_resolved"]["welcome"][0]["agent_id"] == "greeter-1"
            listed = await call(session, "list_available_agents")
            assert sorted(a["id"] for a in listed["agents"]) == [
                "greeter-1",
                "greeter-2",
                "welcomer-1",
            ]
            found = await call(session, "get_capability_providers", capability="greeting")
            assert [p["agent_id"] for p in found["providers"]] == ["greeter-1"]
            health = await call(session, "get_agent_health_status", agent_id="greeter-1")
            assert health["status"] == "healthy"
            counted = (await call(session, "get_registry_metrics"))["replica"]["corrupt_records"]
            assert counted["kind=doc"] >= 1 and counted["kind=entry"] >= 2
            text = (await http.get("/metrics")).text
            assert 'registry_corrupt_records_total{kind="entry"}' in text
            events = (await http.get("/events", params={"type": "corrupt"})).json()["events"]
            assert sorted(e["agent_id"] for e in events) == ["greeter-2", "victim-1"]
    finally:
        proc.stop()


async def test_an_undecodable_assignment_leaves_the_agents_capabilities_alone(
    app_client: ClientFactory, raw: aioredis.Redis, tmp_path: Path
) -> None:
    bundle = worker_bundle(tmp_path / "a")
    before = _count("assignment")
    async with app_client(bundle_dir=bundle.path, admin_token=TOKEN) as c:
        await _ok(c, "POST", "/heartbeat", json=worker("w-1"))
        await _ok(c, "POST", "/heartbeat", json=worker("w-2"))
        await _ok(c, "PUT", "/admin/agents/w-1/capabilities", json=FORECAST, headers=ADMIN)
        assigned = (await _ok(c, "POST", "/heartbeat", json=worker("w-1")))["capabilities"]
        assert assigned["source"] == "assigned"
        await raw.set(KEYS.assignment(NS, "w-1"), SPOIL["wrong-shape"](b"{}"))

        for _ in range(3):
            body = await _ok(c, "POST", "/heartbeat", json=worker("w-1"))
            assert "capabilities" not in body and body["config"]["version"] == bundle.version
        other = await _ok(c, "POST", "/heartbeat", json=worker("w-2"))
        assert other["capabilities"]["source"] == "profile"
        assert _count("assignment") == before + 3
        (event,) = await _corrupt_events(c)
        assert event[0] == "w-1"
        assert event[1].startswith(f"assignment {KEYS.assignment(NS, 'w-1')} does not decode")
        assert "assignment-lost" not in [
            e["type"]
            for e in (await _ok(c, "GET", "/events", params={"agent_id": "w-1"}))["events"]
        ]

        # An admin assigning again rewrites it; unregistering drops a corrupt one all the same.
        await _ok(c, "PUT", "/admin/agents/w-1/capabilities", json=FORECAST, headers=ADMIN)
        healed = (await _ok(c, "POST", "/heartbeat", json=worker("w-1")))["capabilities"]
        assert healed["version"] == assigned["version"]
        await raw.set(KEYS.assignment(NS, "w-1"), b"\xff")
        assert (await c.delete("/agents/w-1")).status_code == 204
        gone = await _ok(c, "GET", "/events", params={"agent_id": "w-1", "type": "unregister"})
        assert [e["detail"] for e in gone["events"]] == ["dropped assignment (undecodable)"]


def _request(agent_id: str) -> HeartbeatRequest:
    return msgspec.convert(agent(agent_id, tool("hello", "hello")), HeartbeatRequest)


async def test_an_undecodable_record_without_a_live_hash_belongs_to_nobody(
    raw: aioredis.Redis,
) -> None:
    store = Store(raw, KEYS)

    async def beat(agent_id: str, owner: str) -> str:
        result = await store.heartbeat(
            _request(agent_id),
            thresholds=Thresholds(),
            profile="p",
            epoch="",
            now_ms=0,
            owner=owner,
        )
        return result.kind

    async def owner_of(agent_id: str) -> bytes:
        keys = [KEYS.live(NS, agent_id), KEYS.doc(NS, agent_id)]
        return bytes(await store.conn.run(store.scripts.owner_of, keys, []))

    # Live: the liveness hash names the owner, who heals the record with a heartbeat.
    assert await beat("live-1", "token:a") == "register"
    await _spoil_doc(raw, "live-1", "invalid-json")
    with pytest.raises(NotOwner):
        await beat("live-1", "token:b")
    assert await beat("live-1", "token:a") == "update"
    assert (await store.get_agent("live-1")) is not None

    # Not live: nobody can prove the id is theirs until the record expires.
    assert await beat("idle-1", "token:a") == "register"
    await raw.delete(KEYS.live(NS, "idle-1"))
    await _spoil_doc(raw, "idle-1", "wrong-shape")
    assert await owner_of("idle-1") == b"unknown"
    for owner in ("token:a", "token:b"):
        with pytest.raises(NotOwner):
            await beat("idle-1", owner)
    assert await beat("idle-1", "") == "register"  # auth off checks no owner: it heals
    assert (await store.get_agent("idle-1")) is not None
