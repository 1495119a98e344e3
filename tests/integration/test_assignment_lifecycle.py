"""What happens to an agent's runtime capability assignment and its ``noted`` (drift dedupe)
fields over its lifecycle, against a real redis-server: an expiry keeps them (the agent may
come back and gets its assignment again); an unregister or a purge drops them, and only the
departed agent's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from apps import FAST, ClientFactory
from config_bundles import worker, worker_bundle
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from support import eventually

from service.bundle import Bundle
from service.store.config_store import ConfigStore
from service.store.keys import Keys
from service.store.store import Store

TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
FORECAST = {"capabilities": [{"name": "forecast", "version": "1.0.0"}]}
NS = "default"
KEYS = Keys()  # the default REGISTRY_KEY_PREFIX, as the app uses


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    # FAST thresholds in the profile: expiry after 0.8 s, purge 1.5 s later.
    return worker_bundle(tmp_path / "a", thresholds=FAST)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def config(raw: aioredis.Redis) -> ConfigStore:
    """The registry's own config store, on this test's event loop (the app runs on another)."""
    return ConfigStore(Store(raw, KEYS))


async def _setup(
    c: AsyncTestClient[Any], config: ConfigStore, bundle: Bundle, agent_id: str
) -> str:
    """Register ``agent_id``, assign it a capability and note a drift event for it."""
    await c.post("/heartbeat", json=worker(agent_id, config_version=bundle.version))
    r = await c.put(f"/admin/agents/{agent_id}/capabilities", json=FORECAST, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert await config.note_once(NS, "drift", agent_id, bundle.version, "test")
    return str(r.json()["version"])


async def _leftovers(raw: aioredis.Redis, agent_id: str) -> tuple[bool, bool]:
    """(assignment key exists, agent has a field in the drift noted hash)."""
    asg = bool(await raw.exists(KEYS.assignment(NS, agent_id)))
    noted = bool(await raw.hexists(KEYS.noted(NS, "drift"), agent_id))
    return asg, noted


async def _events(c: AsyncTestClient[Any], agent_id: str) -> list[tuple[str, str]]:
    body = (await c.get("/events", params={"agent_id": agent_id})).json()
    return [(e["type"], e["detail"]) for e in body["events"]]


async def test_unregister_drops_the_agents_assignment_and_noted_fields_only(
    app_client: ClientFactory, bundle: Bundle, raw: aioredis.Redis, config: ConfigStore
) -> None:
    async with app_client(bundle_dir=bundle.path, admin_token=TOKEN) as c:
        version = await _setup(c, config, bundle, "w-1")
        await _setup(c, config, bundle, "w-2")
        assert await _leftovers(raw, "w-1") == (True, True)

        assert (await c.delete("/agents/w-1")).status_code == 204
        assert await _leftovers(raw, "w-1") == (False, False)
        assert await _leftovers(raw, "w-2") == (True, True)  # the other agent keeps its
        assert ("unregister", f"dropped assignment {version}") in await _events(c, "w-1")

        # Registering again starts from the profile's defaults; no drift event is swallowed.
        again = (await c.post("/heartbeat", json=worker("w-1"))).json()
        assert again["capabilities"]["source"] == "profile"
        assert await config.note_once(NS, "drift", "w-1", bundle.version, "test")


async def test_unregister_of_an_unknown_agent_still_drops_its_leftovers(
    app_client: ClientFactory, bundle: Bundle, raw: aioredis.Redis, config: ConfigStore
) -> None:
    async with app_client(bundle_dir=bundle.path, admin_token=TOKEN) as c:
        # Left behind by a registry version that never deleted them.
        await raw.set(KEYS.assignment(NS, "ghost"), b'{"v": "a:0", "caps": []}')
        await raw.hset(KEYS.noted(NS, "drift"), "ghost", "sha256:x")
        assert (await c.delete("/agents/ghost")).status_code == 404
        assert await _leftovers(raw, "ghost") == (False, False)


async def test_expiry_keeps_the_assignment_and_purge_drops_it(
    app_client: ClientFactory, bundle: Bundle, raw: aioredis.Redis, config: ConfigStore
) -> None:
    lost_before = REGISTRY.get_sample_value("registry_capability_assignments_lost_total") or 0.0
    async with app_client(bundle_dir=bundle.path, admin_token=TOKEN, sweep_interval=0.05) as c:
        version = await _setup(c, config, bundle, "w-1")
        await _setup(c, config, bundle, "w-2")

        async def status(agent_id: str) -> str:
            # w-2 stays alive throughout: its state must survive w-1's purge.
            assert (await c.head("/heartbeat/w-2")).status_code in (200, 202)
            r = await c.get(f"/agents/{agent_id}/health")
            return "purged" if r.status_code == 404 else str(r.json()["status"])

        async def expired() -> bool:
            return await status("w-1") == "expired"

        await eventually(expired, timeout=10)
        assert await _leftovers(raw, "w-1") == (True, True)

        # The agent comes back (as RegistryClient does after a 410), reporting what it ran:
        # its assignment is delivered again, and nothing counts as lost.
        back = worker("w-1", config_version=bundle.version, capabilities_version=version)
        again = (await c.post("/heartbeat", json=back)).json()
        assert again["message"] == "Agent registered via heartbeat"
        assert again["capabilities"] == {"version": version, "changed": False, "source": "assigned"}
        fresh = (await c.post("/heartbeat", json=worker("w-1"))).json()["capabilities"]
        assert fresh["assigned"] == FORECAST["capabilities"]
        lost_after = REGISTRY.get_sample_value("registry_capability_assignments_lost_total")
        assert lost_after == lost_before
        assert "assignment-lost" not in [t for t, _ in await _events(c, "w-1")]

        # Now gone for good: expire_after + retention later the sweeper purges it (the
        # record's TTL ends first, so wait for the sweeper's event, not for a 404).
        async def purged() -> bool:
            await status("w-2")
            return "purge" in [t for t, _ in await _events(c, "w-1")]

        await eventually(purged, timeout=10)
        assert await _leftovers(raw, "w-1") == (False, False)
        assert await _leftovers(raw, "w-2") == (True, True)
        assert ("purge", f"dropped assignment {version}") in await _events(c, "w-1")
