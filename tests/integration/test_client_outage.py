"""RegistryClient against two real replicas whose Redis goes away: they answer 503, the client
alternates between them with backoff and keeps its wiring, config and capabilities (and its
disk cache); when Redis comes back empty it re-registers without re-applying anything."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from config_bundles import worker_bundle
from support import RedisServer, RegistryProcess, eventually, start_registry

from service.client import Backoff, ConfigUpdate, DiskCache, RegistryClient

pytestmark = pytest.mark.timeout(60)

GEO = {
    "agent_id": "geo-1",
    "name": "geo",
    "http_host": "127.0.0.1",
    "http_port": 9200,
    "tools": [{"function_name": "geo", "capability": "geocode"}],
}
WORKER = {
    "agent_id": "w-1",
    "name": "worker",
    "profile": "worker",
    "http_host": "127.0.0.1",
    "http_port": 9100,
    "tools": [
        {
            "function_name": "forecast",
            "capability": "forecast",
            "dependencies": [{"capability": "geocode"}],
        }
    ],
}


class Seen:
    def __init__(self) -> None:
        self.config: list[ConfigUpdate] = []
        self.capabilities: list[Any] = []
        self.wiring: list[Any] = []


def _wired(wiring: Any) -> bool:
    return "geo-1" in msgspec.json.encode(wiring).decode()


async def test_client_keeps_state_through_503s_and_fails_over_between_replicas(
    tmp_path: Path,
    own_redis: RedisServer,
    processes: list[RegistryProcess],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = worker_bundle(tmp_path / "a")
    assert a.path is not None
    env = {
        "REGISTRY_REDIS_URL": own_redis.url,
        "REGISTRY_BUNDLE_DIR": str(a.path),
        "REGISTRY_DEPLOY_REVISION": "1",
        "REGISTRY_CONFIG_REFRESH": "0.2",
        "REGISTRY_CONFIG_CLAIM_TTL": "1.0",
        "REGISTRY_LOG_LEVEL": "warning",
    }
    r1, r2 = start_registry(tmp_path, **env), start_registry(tmp_path, **env)
    processes += [r1, r2]
    seen = Seen()
    cache = tmp_path / "cache"
    client = RegistryClient(
        [r1.url, r2.url],
        WORKER,
        cache_dir=cache,
        backoff=Backoff(base=0.05, cap=0.2),
        on_config=seen.config.append,
        on_capabilities=seen.capabilities.append,
        on_wiring=seen.wiring.append,
    )
    async with httpx.AsyncClient() as http:
        assert (await http.post(f"{r1.url}/heartbeat", json=GEO)).status_code == 200
        task = asyncio.create_task(client.run())
        try:

            async def settled() -> bool:
                s = client.state
                return (
                    s.config_version == a.version
                    and s.capabilities is not None
                    and _wired(s.wiring)
                )

            await eventually(settled, timeout=10)
            held = msgspec.structs.replace(client.state)
            assert held.capabilities == [{"name": "search", "version": "1.0.0"}]
            counts = (len(seen.config), len(seen.capabilities), len(seen.wiring))

            # Redis goes away: both replicas answer 503 (problem+json) to HEAD and POST.
            caplog.set_level(logging.WARNING, logger="service.client")
            caplog.clear()
            own_redis.stop()
            for url in (r1.url, r2.url):
                assert (await http.head(f"{url}/heartbeat/w-1")).status_code == 503
                r = await http.post(f"{url}/heartbeat", json=WORKER)
                assert r.status_code == 503
                assert r.headers["content-type"] == "application/problem+json"

            async def tried_both() -> bool:
                # "registry call failed (...); next try <url> in ...": each failure moves on.
                nexts = [m for m in caplog.messages if "next try" in m]
                return any(r1.url in m for m in nexts) and any(r2.url in m for m in nexts)

            await eventually(tried_both, timeout=10)
            assert any("503" in m for m in caplog.messages)
            assert client.state == held
            assert DiskCache(cache, "w-1").load() == held
            assert (len(seen.config), len(seen.capabilities), len(seen.wiring)) == counts
            assert not task.done()

            # Redis is back, empty: the replicas republish; the client re-registers (its
            # HEAD gets 410) reporting the versions it runs, so nothing is applied again.
            own_redis.start()
            await eventually(lambda: _registered(http, r1.url, a.version), timeout=10, every=0.05)
            await http.post(f"{r2.url}/heartbeat", json=GEO)  # the provider is back too
            await eventually(lambda: _wired_again(client), timeout=10)
            assert client.state.config_version == a.version
            assert len(seen.config) == counts[0]  # same version: no re-apply, no restart
            assert client.state.capabilities == held.capabilities
        finally:
            client.stop()
            await task


async def _registered(http: httpx.AsyncClient, url: str, version: str) -> bool:
    r = await http.get(f"{url}/agents/w-1")
    return r.status_code == 200 and r.json().get("config_version") == version


async def _wired_again(client: RegistryClient) -> bool:
    return _wired(client.state.wiring)
