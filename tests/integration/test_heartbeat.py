"""Heartbeat semantics against a real redis-server: HEAD codes, targeted 202, rewiring."""

from __future__ import annotations

import json
from typing import Any

from agents_data import agent, consumer, provider, tool
from apps import FAST, ClientFactory
from litestar.testing import AsyncTestClient
from support import RedisServer, eventually

from service.store.keys import Keys


async def test_head_for_known_agent_returns_200(client: AsyncTestClient[Any]) -> None:
    assert (await client.post("/heartbeat", json=provider())).status_code == 200
    assert (await client.head("/heartbeat/greeter-1")).status_code == 200


async def test_head_for_unknown_agent_returns_410(client: AsyncTestClient[Any]) -> None:
    assert (await client.head("/heartbeat/nobody")).status_code == 410


async def test_head_with_invalid_id_returns_400(client: AsyncTestClient[Any]) -> None:
    assert (await client.head("/heartbeat/bad%20id")).status_code == 400


async def test_provider_join_gives_consumer_202_then_post_wires_it(
    client: AsyncTestClient[Any],
) -> None:
    first = (await client.post("/heartbeat", json=consumer())).json()
    assert first["dependencies_resolved"]["welcome"][0]["status"] == "unresolved"
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 200
    await client.post("/heartbeat", json=provider())
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 202
    # 202 persists until the agent sends its full POST.
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 202
    body = (await client.post("/heartbeat", json=consumer())).json()
    slot = body["dependencies_resolved"]["welcome"][0]
    assert slot == {
        "agent_id": "greeter-1",
        "capability": "greeting",
        "endpoint": "http://127.0.0.1:9001",
        "function_name": "greet",
        "status": "available",
        "kwargs": {"function_name": "greet"},
    }
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 200


async def test_unrelated_agent_joining_gives_others_200(client: AsyncTestClient[Any]) -> None:
    await client.post("/heartbeat", json=provider())
    await client.post("/heartbeat", json=consumer())
    await client.post("/heartbeat", json=agent("weather-1", tool("forecast", "weather")))
    await client.post("/heartbeat", json=consumer("other-1", dep={"capability": "weather"}))
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 200
    assert (await client.head("/heartbeat/greeter-1")).status_code == 200
    assert (await client.head("/heartbeat/weather-1")).status_code == 200


async def test_unchanged_full_heartbeat_does_not_disturb_consumers(
    client: AsyncTestClient[Any],
) -> None:
    await client.post("/heartbeat", json=provider())
    await client.post("/heartbeat", json=consumer())
    again = await client.post("/heartbeat", json=provider())
    assert again.json()["message"] == "Agent updated via heartbeat"
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 200


async def test_provider_change_gives_consumer_202(client: AsyncTestClient[Any]) -> None:
    await client.post("/heartbeat", json=provider())
    await client.post("/heartbeat", json=consumer())
    await client.post("/heartbeat", json=provider(port=9555))
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 202
    body = (await client.post("/heartbeat", json=consumer())).json()
    assert body["dependencies_resolved"]["welcome"][0]["endpoint"] == "http://127.0.0.1:9555"


async def test_delete_rewires_consumers(client: AsyncTestClient[Any]) -> None:
    await client.post("/heartbeat", json=provider())
    await client.post("/heartbeat", json=consumer())
    assert (await client.delete("/agents/greeter-1")).status_code == 204
    assert (await client.head("/heartbeat/welcomer-1")).status_code == 202
    body = (await client.post("/heartbeat", json=consumer())).json()
    assert body["dependencies_resolved"]["welcome"] == [
        {
            "agent_id": "",
            "capability": "greeting",
            "endpoint": "",
            "function_name": "",
            "status": "unresolved",
        }
    ]
    assert (await client.head("/heartbeat/greeter-1")).status_code == 410
    assert (await client.get("/agents/greeter-1")).status_code == 404
    assert (await client.delete("/agents/greeter-1")).status_code == 404


async def test_expired_provider_unwires_consumer(app_client: ClientFactory) -> None:
    async with app_client(thresholds=FAST) as client:
        await client.post("/heartbeat", json=provider())
        await client.post("/heartbeat", json=consumer())

        async def consumer_told_to_repost() -> bool:
            # The consumer keeps heartbeating; the provider has gone silent.
            return (await client.head("/heartbeat/welcomer-1")).status_code == 202

        await eventually(consumer_told_to_repost, timeout=5)
        body = (await client.post("/heartbeat", json=consumer())).json()
        assert body["dependencies_resolved"]["welcome"][0]["status"] == "unresolved"


async def test_expired_provider_is_never_available_without_sweeper(
    app_client: ClientFactory,
) -> None:
    # A sweep interval far beyond the test: only the liveness key can tell the truth.
    async with app_client(thresholds=FAST, sweep_interval=3600) as client:
        await client.post("/heartbeat", json=provider())

        async def expired() -> bool:
            r = await client.get("/agents/greeter-1/health")
            return r.json()["status"] == "expired"

        await eventually(expired, timeout=5)
        body = (await client.post("/heartbeat", json=consumer())).json()
        assert body["dependencies_resolved"]["welcome"][0]["status"] == "unresolved"
        providers = (await client.get("/capabilities/greeting/providers")).json()
        assert providers["providers"] == []
        listed = (
            await client.get("/agents", params={"status": "healthy", "capability": "greeting"})
        ).json()
        assert listed["agents"] == []
        assert (await client.head("/heartbeat/greeter-1")).status_code == 410


async def test_head_during_store_outage_is_503_never_410(
    app_client: ClientFactory, own_redis: RedisServer
) -> None:
    async with app_client(redis_url=own_redis.url, redis_timeout=0.2) as client:
        await client.post("/heartbeat", json=provider())
        assert (await client.head("/heartbeat/greeter-1")).status_code == 200
        own_redis.stop()
        for _ in range(3):
            r = await client.head("/heartbeat/greeter-1")
            assert r.status_code == 503
            assert r.headers["retry-after"] == "1"
        r = await client.post("/heartbeat", json=provider())
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200


async def test_agent_alternating_between_two_replicas(app_client: ClientFactory) -> None:
    async with app_client() as a, app_client() as b:
        await a.post("/heartbeat", json=provider())
        await b.post("/heartbeat", json=consumer())
        for replica in (a, b, a, b):
            assert (await replica.head("/heartbeat/greeter-1")).status_code == 200
            assert (await replica.head("/heartbeat/welcomer-1")).status_code == 200
        await b.delete("/agents/greeter-1")
        assert (await a.head("/heartbeat/welcomer-1")).status_code == 202
        assert (await a.head("/heartbeat/greeter-1")).status_code == 410


async def test_non_default_namespace_found_by_a_replica_that_never_saw_it(
    app_client: ClientFactory,
) -> None:
    async with app_client() as a, app_client() as b:
        body = provider(namespace="team-a")
        assert (await a.post("/heartbeat", json=body)).status_code == 200
        assert (await b.head("/heartbeat/greeter-1")).status_code == 200
        view = (await b.get("/agents/greeter-1")).json()
        assert view["namespace"] == "team-a"
        # Moving the agent to another namespace leaves no copy behind.
        await b.post("/heartbeat", json=provider(namespace="team-b"))
        listed = (await a.get("/agents")).json()["agents"]
        assert [(x["id"], x["namespace"]) for x in listed] == [("greeter-1", "team-b")]


async def test_recovery_after_script_flush(
    client: AsyncTestClient[Any], redis_server: RedisServer
) -> None:
    await client.post("/heartbeat", json=provider())
    assert (await client.head("/heartbeat/greeter-1")).status_code == 200
    r = redis_server.client()
    r.script_flush()
    r.close()
    assert (await client.head("/heartbeat/greeter-1")).status_code == 200
    assert (await client.post("/heartbeat", json=consumer())).status_code == 200


async def test_reported_config_status_is_stored_and_shown_until_the_next_report(
    client: AsyncTestClient[Any], redis_server: RedisServer
) -> None:
    error = "KeyError: 'model'"
    body = provider(config_version="sha256:v1", config_status="failed", config_error=error)
    assert (await client.post("/heartbeat", json=body)).status_code == 200
    shown = (await client.get("/agents/greeter-1")).json()
    assert (shown["config_status"], shown["config_error"]) == ("failed", error)
    r = redis_server.client()
    stored = json.loads(r.get(Keys().doc("default", "greeter-1")))
    assert (stored["cfg"], stored["cs"], stored["ce"]) == ("sha256:v1", "failed", error)
    # Each full heartbeat rewrites the record: a clean apply drops the error.
    ok = provider(config_version="sha256:v2", config_status="applied")
    assert (await client.post("/heartbeat", json=ok)).status_code == 200
    shown = (await client.get("/agents/greeter-1")).json()
    assert (shown["config_version"], shown["config_status"]) == ("sha256:v2", "applied")
    assert shown["config_error"] is None
    stored = json.loads(r.get(Keys().doc("default", "greeter-1")))
    assert stored["cs"] == "applied" and "ce" not in stored
    # A stock MCP Mesh heartbeat reports nothing: nothing is stored, the view says null.
    assert (await client.post("/heartbeat", json=provider())).status_code == 200
    stored = json.loads(r.get(Keys().doc("default", "greeter-1")))
    assert not {"cfg", "cs", "ce"} & set(stored)
    assert (await client.get("/agents/greeter-1")).json()["config_status"] is None
    r.close()
