"""Sentinel mode: the master's address comes from a real sentinel."""

from __future__ import annotations

from pathlib import Path

from agents_data import consumer, provider
from litestar.testing import AsyncTestClient
from support import RedisSentinel

from service.app import create_app
from service.settings import Settings


async def test_replica_finds_the_master_through_sentinel(tmp_path: Path) -> None:
    sentinel = RedisSentinel(tmp_path)
    sentinel.start()
    try:
        settings = Settings.from_env(
            {
                "REGISTRY_REDIS_MODE": "sentinel",
                "REGISTRY_REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}",
                "REGISTRY_REDIS_SENTINEL_MASTER": sentinel.name,
                "REGISTRY_REDIS_URL": "redis://ignored-host/3",
                "REGISTRY_AUTH": "off",
            }
        )
        async with AsyncTestClient(app=create_app(settings)) as client:
            await client.post("/heartbeat", json=provider())
            body = (await client.post("/heartbeat", json=consumer())).json()
            assert body["dependencies_resolved"]["welcome"][0]["agent_id"] == "greeter-1"
            assert (await client.head("/heartbeat/welcomer-1")).status_code == 200
        assert sentinel.master is not None
        master = sentinel.master.client()
        master.select(3)  # the URL's db is honoured; its host is not used
        assert master.exists("reg:{default}:a:greeter-1") == 1
        master.close()
    finally:
        sentinel.stop()
