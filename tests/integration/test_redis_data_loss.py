"""Redis loses its data under a running replica (FLUSHALL, or a restart without persistence):
the replica republishes its baked bundle and reclaims active within a few refresh periods,
keeps serving config meanwhile, and what it writes again is byte-for-byte the bundle."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from config_bundles import worker, worker_bundle
from support import RedisServer, RegistryProcess, eventually, start_registry

from service.bundle import Bundle, bundle_from_files
from service.store.keys import Keys

pytestmark = pytest.mark.timeout(60)

REFRESH = 0.2
KEYS = Keys()


def _replica(
    tmp_path: Path,
    redis_url: str,
    bundle: Bundle,
    revision: int,
    *,
    refresh: float,
    claim_ttl: float = 3.0,
) -> RegistryProcess:
    """A replica process serving ``bundle`` as deploy revision ``revision``."""
    return start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_DEPLOY_REVISION=str(revision),
        REGISTRY_CONFIG_REFRESH=str(refresh),
        REGISTRY_CONFIG_CLAIM_TTL=str(claim_ttl),
        REGISTRY_LOG_LEVEL="warning",
    )


@pytest.mark.parametrize("loss", ["flushall", "restart"])
async def test_replica_republishes_its_bundle_after_redis_lost_its_data(
    tmp_path: Path, own_redis: RedisServer, processes: list[RegistryProcess], loss: str
) -> None:
    a = worker_bundle(tmp_path / "a")
    assert a.path is not None
    reg = _replica(tmp_path, own_redis.url, a, 3, refresh=REFRESH, claim_ttl=1.0)
    processes.append(reg)
    raw = aioredis.Redis.from_url(own_redis.url)
    async with httpx.AsyncClient(base_url=reg.url) as http:
        try:
            before = (await http.post("/heartbeat", json=worker("w-1"))).json()
            assert before["config"]["version"] == a.version
            assert await raw.exists(KEYS.bundle(a.version))

            if loss == "flushall":
                await raw.flushall()
                await raw.script_flush()
            else:
                await raw.aclose()
                own_redis.stop()
                own_redis.start()  # same port, nothing persisted
                raw = aioredis.Redis.from_url(own_redis.url)
            assert not await raw.exists(KEYS.bundle(a.version))
            lost_at = time.monotonic()

            # Meanwhile the replica keeps serving the bundle from memory.
            assert (await http.get("/config/active")).json()["version"] == a.version

            async def republished() -> bool:
                active = await raw.get(KEYS.active())
                return active is not None and active.decode().endswith(f"|3|{a.version}|claim")

            await eventually(republished, timeout=5)
            # Publish, then claim: two refresh ticks; allow a few more for scheduling and
            # (after a restart) the reconnection.
            assert time.monotonic() - lost_at < 10 * REFRESH

            # What Redis holds again is exactly the baked bundle, and it verifies.
            files = {
                k.decode(): bytes(v) for k, v in (await raw.hgetall(KEYS.bundle(a.version))).items()
            }
            assert files == a.to_canonical_files()
            assert bundle_from_files(files).version == a.version
            assert [v.decode() for v in await raw.zrange(KEYS.versions(), 0, -1)] == [a.version]
            claims = [m.decode() for m in await raw.zrange(KEYS.claims(), 0, -1)]
            assert len(claims) == 1 and claims[0].startswith(f"3|{a.version}|")

            versions = (await http.get("/config/versions")).json()
            assert versions["active"]["version"] == a.version
            assert versions["active"]["source"] == "claim"
            assert [v["version"] for v in versions["versions"]] == [a.version]
            (activation,) = versions["history"]  # the history starts again
            assert (activation["version"], activation["previous"]) == (a.version, None)
            assert (await http.get("/config/active")).json() == a.manifest
            profile = (await http.get("/config/profiles/worker")).json()
            assert profile == a.profiles["worker"]

            # The agent's record went with the data: HEAD says so, and a POST re-registers
            # it and still carries the config, with a generation that never steps back.
            assert (await http.head("/heartbeat/w-1")).status_code == 410
            after = await http.post("/heartbeat", json=worker("w-1"))
            assert after.status_code == 200
            config = after.json()["config"]
            assert config["version"] == a.version
            assert config["payload"] == a.profiles["worker"]
            assert config["generation"] > before["config"]["generation"]
            steady = worker("w-1", config_version=a.version)
            assert (await http.post("/heartbeat", json=steady)).json()["config"]["changed"] is False
        finally:
            await raw.aclose()


async def _history(raw: aioredis.Redis) -> list[str]:
    return [fields[b"v"].decode() for _, fields in await raw.xrange(KEYS.history())]


async def test_after_a_data_loss_a_lower_revision_does_not_activate_first(
    tmp_path: Path, own_redis: RedisServer, processes: list[RegistryProcess]
) -> None:
    """Mid-rollout (revisions 1 and 2 running, 2 active) Redis loses its data. The revision-1
    replica refreshes five times as often, so it republishes first; the fleet must still go
    straight back to revision 2's bundle, never through revision 1's."""
    old, new = (
        worker_bundle(tmp_path / "a", model="small"),
        worker_bundle(tmp_path / "b", model="large"),
    )
    processes.append(_replica(tmp_path, own_redis.url, new, 2, refresh=0.5))
    processes.append(_replica(tmp_path, own_redis.url, old, 1, refresh=0.1))
    raw = aioredis.Redis.from_url(own_redis.url)
    try:
        async with httpx.AsyncClient() as http:

            async def served(version: str) -> bool:
                for reg in processes:
                    got = (await http.get(f"{reg.url}/config/active")).json()["version"]
                    if got != version:
                        return False
                return True

            await eventually(lambda: served(new.version))
            await raw.flushall()

            async def back() -> bool:
                active = await raw.get(KEYS.active())
                return active is not None

            await eventually(back, timeout=10)
            # Revision 1 republished first (its bundle is back), yet never activated.
            assert await raw.exists(KEYS.bundle(old.version))
            assert await _history(raw) == [new.version]
            assert (await raw.get(KEYS.active())).decode().endswith(f"|2|{new.version}|claim")
            assert await served(new.version)
    finally:
        await raw.aclose()


async def test_the_hold_after_a_data_loss_ends_when_the_higher_revision_is_gone(
    tmp_path: Path, own_redis: RedisServer, processes: list[RegistryProcess]
) -> None:
    """The higher revision died with the data: after one claim TTL the remaining replica's
    bundle activates, so the hold cannot wedge the fleet."""
    old, new = (
        worker_bundle(tmp_path / "a", model="small"),
        worker_bundle(tmp_path / "b", model="large"),
    )
    processes.append(_replica(tmp_path, own_redis.url, new, 2, refresh=0.2))
    survivor = _replica(tmp_path, own_redis.url, old, 1, refresh=0.2)
    processes.append(survivor)
    raw = aioredis.Redis.from_url(own_redis.url)
    try:
        async with httpx.AsyncClient(base_url=survivor.url) as http:

            async def survivor_serves(version: str) -> bool:
                return bool((await http.get("/config/active")).json()["version"] == version)

            await eventually(lambda: survivor_serves(new.version))
            processes[0].proc.kill()
            processes[0].proc.wait(5)
            await raw.flushall()

            async def held() -> bool:
                return bool(await raw.exists(KEYS.recovery()))

            await eventually(held, timeout=5)
            # While held, nothing is active and the survivor keeps serving what it had.
            assert await raw.get(KEYS.active()) is None
            assert await survivor_serves(new.version)

            await eventually(lambda: survivor_serves(old.version), timeout=15)
            assert await _history(raw) == [old.version]
    finally:
        await raw.aclose()
