"""The manual override: ``PUT``/``DELETE /admin/config/pin`` through two in-process replicas
on a real redis-server. A pin takes effect before the answer (not at the next refresh), is
delivered in heartbeats, shows in the history, and only published versions can be pinned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from apps import ClientFactory
from config_bundles import worker
from litestar.testing import AsyncTestClient
from support import eventually

from service.bundle import Bundle

TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
# Refresh ticks far apart: anything that happens within a test is due to the pin itself
# (or to the activation watcher), never to a periodic refresh.
SLOW = {"config_refresh": 5.0, "config_claim_ttl": 15.0, "admin_token": TOKEN}
UNPUBLISHED = "sha256:" + "0" * 64


@asynccontextmanager
async def _rolled_out(
    app_client: ClientFactory, a: Bundle, b: Bundle
) -> AsyncIterator[tuple[AsyncTestClient[Any], AsyncTestClient[Any]]]:
    """A revision-1 replica of A and a revision-2 replica of B, once both serve B."""
    async with (
        app_client(bundle_dir=a.path, deploy_revision=1, **SLOW) as old,
        app_client(bundle_dir=b.path, deploy_revision=2, **SLOW) as new,
    ):
        await eventually(lambda: _serves(old, b.version), timeout=5)
        yield old, new


async def _active(c: AsyncTestClient[Any]) -> str:
    return str((await c.get("/config/active")).json()["version"])


async def test_pin_and_unpin_switch_every_replica_and_reach_heartbeats(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, b = bundles
    async with _rolled_out(app_client, a, b) as (old, new):
        assert await _active(new) == b.version
        on_b = (await new.post("/heartbeat", json=worker("w-1", config_version=b.version))).json()
        assert on_b["config"]["changed"] is False

        # Pin the older version: the replica that took the call serves it before answering.
        r = await new.put("/admin/config/pin", json={"version": a.version}, headers=ADMIN)
        assert r.status_code == 200, r.text
        pinned = r.json()
        assert pinned["pinned"] == a.version
        assert (pinned["active"], pinned["source"]) == (a.version, "pin")
        assert pinned["generation"] > on_b["config"]["generation"]
        assert await _active(new) == a.version
        # The other replica follows within a round trip (its refresh is 5 s away).
        await eventually(lambda: _serves(old, a.version), timeout=2)

        assert (await new.head("/heartbeat/w-1")).status_code == 202
        got = (await old.post("/heartbeat", json=worker("w-1", config_version=b.version))).json()
        assert got["config"]["version"] == a.version
        assert got["config"]["changed"] is True
        assert got["config"]["generation"] == pinned["generation"]
        assert got["config"]["payload"]["config"]["model"] == "small"
        assert got["config"]["restart_required"] is True  # /config/model differs

        versions = (await old.get("/config/versions")).json()
        assert versions["active"] == {
            "version": a.version,
            "generation": pinned["generation"],
            "revision": 2,
            "source": "pin",
        }
        latest = versions["history"][0]
        assert (latest["version"], latest["previous"]) == (a.version, b.version)
        assert (latest["source"], latest["replica"]) == ("pin", "operator")

        # Unpin: back to the highest live revision (B), again before the answer.
        r = await old.delete("/admin/config/pin", headers=ADMIN)
        assert r.status_code == 200, r.text
        unpinned = r.json()
        assert unpinned["pinned"] is None
        assert (unpinned["active"], unpinned["source"]) == (b.version, "claim")
        assert unpinned["generation"] > pinned["generation"]
        assert await _active(old) == b.version
        await eventually(lambda: _serves(new, b.version), timeout=2)
        back = (await new.post("/heartbeat", json=worker("w-1", config_version=a.version))).json()
        assert back["config"]["version"] == b.version
        assert back["config"]["payload"]["config"]["model"] == "large"
        history = (await new.get("/config/versions")).json()["history"]
        assert [(h["version"], h["source"]) for h in history[:3]] == [
            (b.version, "claim"),
            (a.version, "pin"),
            (b.version, "claim"),
        ]


async def _serves(c: AsyncTestClient[Any], version: str) -> bool:
    return await _active(c) == version


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": UNPUBLISHED}, "version"),  # well-formed, never published
        ({"version": "latest"}, "version"),  # not a bundle version at all
        ({"version": 3}, "version"),
        ({}, "version"),
    ],
)
async def test_pin_refuses_what_is_not_a_published_version_and_changes_nothing(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle], body: dict[str, Any], field: str
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, **SLOW) as c:
        r = await c.put("/admin/config/pin", json=body, headers=ADMIN)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field
        assert (await c.get("/config/versions")).json()["active"]["source"] == "claim"
        assert await _active(c) == a.version


async def test_pin_endpoints_require_the_admin_token(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, b = bundles
    async with _rolled_out(app_client, a, b) as (_old, new):
        pin = {"version": a.version}
        for headers, status in [({}, 401), ({"Authorization": "Bearer nope"}, 403)]:
            r = await new.put("/admin/config/pin", json=pin, headers=headers)
            assert r.status_code == status
            assert r.json()["field"] == "Authorization"
        assert await _active(new) == b.version  # nothing was pinned

        assert (await new.put("/admin/config/pin", json=pin, headers=ADMIN)).status_code == 200
        assert (await new.delete("/admin/config/pin")).status_code == 401
        wrong = await new.delete("/admin/config/pin", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        assert await _active(new) == a.version  # still pinned

    # Without REGISTRY_ADMIN_TOKEN the endpoints are disabled, even with a token sent.
    async with app_client(bundle_dir=a.path) as closed:
        r = await closed.put("/admin/config/pin", json=pin, headers=ADMIN)
        assert r.status_code == 403
        assert "REGISTRY_ADMIN_TOKEN" in r.json()["detail"]
        assert (await closed.delete("/admin/config/pin", headers=ADMIN)).status_code == 403
