"""The store contract: the same tests on every backend a replica can run on.

``embedded`` is the fakeredis store ``make run`` uses; ``standalone``, ``sentinel`` (a master,
a replica and a sentinel) and ``cluster`` (three masters) are real redis-servers started once
per session and flushed per test (Litestar's ``tests/unit/test_stores.py`` pattern).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from agents_data import consumer, provider
from support import RedisCluster, RedisSentinel, RedisServer, eventually

from service.models import HeartbeatRequest
from service.settings import Settings, Thresholds
from service.store.keys import Keys
from service.store.results import Touch
from service.store.store import Store

pytestmark = pytest.mark.timeout(60)

BACKENDS = ["embedded", "standalone", "sentinel", "cluster"]
# Short timers: a provider left alone expires in well under a second; tests poll for it.
QUICK = Thresholds(heartbeat_interval=0.1, degraded_after=0.25, expire_after=0.5, retention=30)
_decode = msgspec.json.Decoder(HeartbeatRequest)


def _settings(request: pytest.FixtureRequest, backend: str) -> Settings:
    if backend == "embedded":
        return Settings(redis_url=None)
    if backend == "standalone":
        server: RedisServer = request.getfixturevalue("redis_server")
        return Settings(redis_url=server.url)
    if backend == "sentinel":
        sentinel: RedisSentinel = request.getfixturevalue("redis_sentinel")
        return Settings(
            redis_mode="sentinel",
            redis_sentinels=(("127.0.0.1", sentinel.port),),
            redis_sentinel_master=sentinel.name,
        )
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return Settings(redis_url=cluster.url, redis_mode="cluster")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store on one backend, with the backend flushed (data and scripts)."""
    st = Store.from_settings(_settings(request, request.param))
    await st.client.flushall()
    await st.client.script_flush()
    yield st
    await st.close()


async def beat(store: Store, body: dict[str, Any], thresholds: Thresholds = QUICK) -> str:
    """One full heartbeat; returns its kind (register, update, refresh)."""
    req = _decode.decode(msgspec.json.encode(body))
    result = await store.heartbeat(
        req, thresholds=thresholds, profile="default", epoch="", now_ms=0
    )
    return result.kind


async def resolved(store: Store, body: dict[str, Any]) -> list[str]:
    """The provider ids a consumer's full heartbeat (default thresholds) gets for ``greeting``."""
    req = _decode.decode(msgspec.json.encode(body))
    result = await store.heartbeat(
        req, thresholds=Thresholds(), profile="default", epoch="", now_ms=0
    )
    return sorted(c.entry.agent_id for c in result.candidates.get("greeting", []))


async def test_heartbeat_registers_refreshes_and_updates(store: Store) -> None:
    assert await beat(store, provider()) == "register"
    assert await beat(store, provider()) == "refresh"
    assert await beat(store, provider(version="1.1.0")) == "update"
    row = await store.get_agent("greeter-1")
    assert row is not None and row.live is not None
    assert row.live.status == "healthy"
    assert (row.live.ttl_ms, row.live.degraded_ms) == (500, 250)
    kinds = [e.fields["t"] for e in await store.events("default", "-", "+", 100)]
    assert kinds == ["register", "update"]


async def test_head_answers_ok_changed_and_gone(store: Store) -> None:
    assert await store.touch("nobody") is Touch.GONE
    await beat(store, provider(), Thresholds())
    await beat(store, consumer(), Thresholds())
    assert await store.touch("welcomer-1") is Touch.OK
    await beat(store, provider("greeter-2"), Thresholds())  # a new provider joins
    assert await store.touch("welcomer-1") is Touch.CHANGED
    assert await resolved(store, consumer()) == ["greeter-1", "greeter-2"]
    assert await store.touch("welcomer-1") is Touch.OK
    assert await store.unregister("greeter-2")
    assert await store.touch("welcomer-1") is Touch.CHANGED


async def test_a_provider_expires_through_its_ttl_and_the_sweep_tells_consumers(
    store: Store,
) -> None:
    await beat(store, provider())
    await beat(store, consumer(), Thresholds())
    assert await resolved(store, consumer()) == ["greeter-1"]

    async def expired() -> bool:
        row = await store.get_agent("greeter-1")
        return row is not None and row.live is None

    await eventually(expired, timeout=5)
    # Reads never show it live, swept or not.
    assert await store.providers("default", "greeting") == []
    assert await resolved(store, consumer()) == []
    await eventually(lambda: _swept(store), timeout=5)
    assert await store.touch("welcomer-1") is Touch.CHANGED
    kinds = [e.fields["t"] for e in await store.events("default", "-", "+", 100)]
    assert "expire" in kinds
    assert (await store.counts())["default"]["expired"] == 1


async def _swept(store: Store) -> bool:
    return (await store.sweep()).expired > 0


async def test_listing_pages_through_every_agent(store: Store) -> None:
    ids = [f"greeter-{i}" for i in range(7)]
    for agent_id in ids:
        await beat(store, provider(agent_id), Thresholds())
    seen: list[str] = []
    after = ""
    while True:
        rows, after = await store.list_agents("default", after, 3)
        if not rows:
            break
        seen += [r.doc.id for r in rows]
    assert seen == sorted(ids)
    got = await store.agents_by_id("default", ["greeter-3", "missing", "greeter-5"])
    assert [r.doc.id for r in got] == ["greeter-3", "greeter-5"]
    assert await store.capability_names("default", "", 10) == ["greeting"]
    assert await store.provider_ids("default", "greeting") == sorted(ids)


async def test_providers_across_namespaces(store: Store) -> None:
    await beat(store, provider("g-a", namespace="team-a"), Thresholds())
    await beat(store, provider("g-b", namespace="team-b"), Thresholds())
    assert [c.entry.agent_id for c in await store.providers("team-a", "greeting")] == ["g-a"]
    remote = consumer("w-1", dep={"capability": "greeting", "namespace": "team-b"})
    assert await resolved(store, remote) == ["g-b"]
    assert await store.namespaces() == ["default", "team-a", "team-b"]


async def test_scripts_reload_after_script_flush(store: Store) -> None:
    await beat(store, provider(), Thresholds())
    await store.client.script_flush()
    assert await store.touch("greeter-1") is Touch.OK
    await store.client.script_flush()
    assert await beat(store, provider(), Thresholds()) == "refresh"
    await store.client.script_flush()
    assert (await store.sweep()).looked_at >= 0


async def test_pipelined_heartbeats_reload_their_scripts(store: Store) -> None:
    """Heartbeats of one loop turn share a pipeline; a NOSCRIPT inside it is recovered."""
    ids = [f"greeter-{i}" for i in range(6)]
    for agent_id in ids:
        await beat(store, provider(agent_id), Thresholds())
    await store.client.script_flush()
    got = await asyncio.gather(*(store.touch(a) for a in ids))
    assert got == [Touch.OK] * len(ids)
    await store.client.script_flush()
    kinds = await asyncio.gather(*(beat(store, provider(a), Thresholds()) for a in ids))
    assert kinds == ["refresh"] * len(ids)


async def test_concurrent_change_index_reads_each_get_their_own_index(store: Store) -> None:
    """Revalidations of one loop turn share a pipeline; each still reads its own keys."""
    await beat(store, provider("g-1"), Thresholds())
    await beat(store, provider("g-a", namespace="team-a"), Thresholds())
    # A second provider in team-a: its greeting counter differs from default's, so the two
    # indexes differ even when both streams' last events share a millisecond.
    await beat(store, provider("g-b", namespace="team-a"), Thresholds())
    asks = [("default", "greeting"), ("team-a", "greeting"), ("default", "nothing"), ("team-a", "")]
    alone = [await store.change_index(ns, cap) for ns, cap in asks]
    await store.client.script_flush()  # a NOSCRIPT inside the shared pipeline is recovered
    together = await asyncio.gather(*(store.change_index(ns, cap) for ns, cap in asks * 3))
    assert together == alone * 3
    assert alone[0].split("-")[0] != alone[1].split("-")[0]  # two separate indexes


async def test_everything_heals_after_redis_lost_its_data(store: Store) -> None:
    agents = [provider("g-1"), consumer("w-1"), provider("g-a", namespace="team-a")]
    for body in agents:
        await beat(store, body, Thresholds())
    assert await store.touch("g-a") is Touch.OK  # the replica learnt where g-a lives

    await store.client.flushall()
    for body in agents:
        assert await store.touch(body["agent_id"]) is Touch.GONE  # 410: register again
        await beat(store, body, QUICK if body["agent_id"] == "g-1" else Thresholds())

    # With no replica restart, every view sees the agents again.
    assert await store.namespaces() == ["default", "team-a"]
    counts = await store.counts()
    assert counts == {
        "default": {"healthy": 2, "degraded": 0, "suspect": 0, "expired": 0},
        "team-a": {"healthy": 1, "degraded": 0, "suspect": 0, "expired": 0},
    }
    rows, _ = await store.list_agents("team-a", "", 10)
    assert [r.doc.id for r in rows] == ["g-a"]
    assert await store.touch("g-a") is Touch.OK
    assert await resolved(store, consumer("w-1")) == ["g-1"]
    registered = [e.fields["a"] for e in await store.events("default", "-", "+", 100)]
    assert registered == ["g-1", "w-1"]

    # The provider stops: the sweep sees its namespace, records the expiry, and the
    # consumer's HEAD asks for a POST, which finds no provider.
    async def expired() -> bool:
        await store.sweep()
        kinds = [e.fields["t"] for e in await store.events("default", "-", "+", 100)]
        return "expire" in kinds

    await eventually(expired, timeout=5)
    assert await store.touch("w-1") is Touch.CHANGED
    assert await resolved(store, consumer("w-1")) == []


async def test_an_outdated_namespace_guess_corrects_itself(store: Store) -> None:
    """``Store._where`` is only a guess: another replica moves the agent, and this one's
    HEAD, read and DELETE still find it where Redis says it is."""
    other = Store(store.client, store.keys)
    await beat(store, provider("g-1", namespace="team-a"), Thresholds())
    assert store._where["g-1"] == "team-a"
    await beat(other, provider("g-1", namespace="team-b"), Thresholds())  # moved
    assert await store.touch("g-1") is Touch.OK
    assert store._where["g-1"] == "team-b"
    store._where["g-1"] = "team-a"  # outdated again
    row = await store.get_agent("g-1")
    assert row is not None and row.doc.ns == "team-b"
    store._where["g-1"] = "team-a"
    assert await store.unregister("g-1")
    assert await store.get_agent("g-1") is None
    assert await store.providers("team-a", "greeting") == []


async def test_a_liveness_value_in_an_unknown_layout_means_register_again(store: Store) -> None:
    await beat(store, provider(), Thresholds())
    live = Keys().live("default", "greeter-1")
    await store.client.set(live, b"20000 10000 300000 0 - ", px=20_000)  # the old layout
    assert await store.touch("greeter-1") is Touch.GONE
    assert await beat(store, provider(), Thresholds()) in ("register", "update")
    assert await store.touch("greeter-1") is Touch.OK


async def test_a_degraded_agent_that_posts_again_leaves_a_recover_event(store: Store) -> None:
    await beat(store, provider())

    async def degraded() -> bool:
        return (await store.sweep()).degraded > 0

    await eventually(degraded, timeout=5)
    await beat(store, provider())
    kinds = [e.fields["t"] for e in await store.events("default", "-", "+", 100)]
    assert kinds[-2:] == ["degraded", "recover"]
