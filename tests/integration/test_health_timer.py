"""The health timer: healthy -> degraded -> expired -> purged, with events."""

from __future__ import annotations

from typing import Any

from agents_data import provider
from apps import FAST, ClientFactory
from support import eventually


async def _status(client: Any, agent_id: str) -> str:
    r = await client.get(f"/agents/{agent_id}/health")
    return "purged" if r.status_code == 404 else str(r.json()["status"])


async def test_agent_goes_healthy_degraded_expired_then_purged(app_client: ClientFactory) -> None:
    async with app_client(thresholds=FAST) as client:
        await client.post("/heartbeat", json=provider())
        health = (await client.get("/agents/greeter-1/health")).json()
        assert health["status"] == "healthy"
        assert health["expire_after_ms"] == 800
        assert health["degraded_after_ms"] == 400
        seen: list[str] = []

        async def reached(target: str) -> bool:
            s = await _status(client, "greeter-1")
            if not seen or seen[-1] != s:
                seen.append(s)
            return s == target

        await eventually(lambda: reached("purged"), timeout=10)
        assert seen == ["healthy", "degraded", "expired", "purged"]

        async def all_events() -> list[str]:
            body = (await client.get("/events", params={"agent_id": "greeter-1"})).json()
            kinds = [e["type"] for e in body["events"]]
            return kinds if "purge" in kinds else []

        kinds = await eventually(all_events, timeout=5)
        assert kinds == ["register", "degraded", "expire", "purge"]


async def test_heartbeat_keeps_agent_healthy_and_recovers_degraded(
    app_client: ClientFactory,
) -> None:
    async with app_client(thresholds=FAST) as client:
        await client.post("/heartbeat", json=provider())

        async def degraded() -> bool:
            return await _status(client, "greeter-1") == "degraded"

        await eventually(degraded, timeout=5)
        assert (await client.head("/heartbeat/greeter-1")).status_code == 200
        assert await _status(client, "greeter-1") == "healthy"


async def test_expired_agent_reregisters_after_410(app_client: ClientFactory) -> None:
    async with app_client(thresholds=FAST) as client:
        await client.post("/heartbeat", json=provider())

        async def expired() -> bool:
            return await _status(client, "greeter-1") == "expired"

        await eventually(expired, timeout=5)
        assert (await client.head("/heartbeat/greeter-1")).status_code == 410

        async def swept() -> bool:  # the sweeper recorded the expiry (unwired it)
            body = (await client.get("/events", params={"type": "expire"})).json()
            return bool(body["events"])

        await eventually(swept, timeout=5)
        again = (await client.post("/heartbeat", json=provider())).json()
        assert again["message"] == "Agent registered via heartbeat"
        assert await _status(client, "greeter-1") == "healthy"
        assert (await client.head("/heartbeat/greeter-1")).status_code == 200
        # The rollout gate counts it as a restart.
        body = (await client.get("/events", params={"type": "restart"})).json()
        assert [(e["agent_id"], e["detail"]) for e in body["events"]] == [
            ("greeter-1", "re-registered after expiry")
        ]


async def test_profile_thresholds_come_from_profile_field(app_client: ClientFactory) -> None:
    from service.domain.profiles import Profiles
    from service.settings import Thresholds

    slow = Thresholds(heartbeat_interval=7, degraded_after=30, expire_after=60, retention=10)
    async with app_client() as client:
        client.app.state.registry.profiles = Profiles(overrides={"slowpoke": slow})
        body = (await client.post("/heartbeat", json=provider(profile="slowpoke"))).json()
        assert body["lease"] == {"ttl_ms": 60000, "interval_ms": 7000}
        health = (await client.get("/agents/greeter-1/health")).json()
        assert health["expire_after_ms"] == 60000
        assert health["heartbeat_interval_ms"] == 7000
        other = (await client.post("/heartbeat", json=provider("plain-1"))).json()
        assert other["lease"] == {"ttl_ms": 20000, "interval_ms": 5000}
