"""Fleet config through one or two in-process replicas: the active bundle, versions, diff,
config and capability blocks in heartbeats, HEAD 202, drift and capability injection."""

from __future__ import annotations

from typing import Any

import pytest
from agents_data import agent, tool
from apps import ClientFactory
from config_bundles import worker
from prometheus_client import REGISTRY
from support import eventually

from service.bundle import Bundle

FAST = {"config_refresh": 0.1, "config_claim_ttl": 0.5}
TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


async def test_heartbeat_delivers_config_and_head_asks_for_post_on_a_new_active(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, b = bundles
    async with app_client(bundle_dir=a.path, deploy_revision=1, **FAST) as one:
        first = (await one.post("/heartbeat", json=worker("w-1"))).json()
        assert first["config"]["version"] == a.version
        assert first["config"]["changed"] is True
        assert first["config"]["payload"]["config"] == {"model": "small", "greeting": "hi"}
        assert first["config"]["restart_required"] is False  # no previous version reported
        assert first["capabilities"]["source"] == "profile"
        assert first["capabilities"]["assigned"] == [{"name": "search", "version": "1.0.0"}]
        same = (
            await one.post(
                "/heartbeat",
                json=worker(
                    "w-1",
                    config_version=a.version,
                    capabilities_version=first["capabilities"]["version"],
                ),
            )
        ).json()
        assert same["config"] == {
            "version": a.version,
            "generation": first["config"]["generation"],
            "changed": False,
            "restart_required": False,
        }
        assert "assigned" not in same["capabilities"]
        assert (await one.head("/heartbeat/w-1")).status_code == 200

        # A newer revision with bundle B starts: the older replica serves B too.
        async with app_client(bundle_dir=b.path, deploy_revision=2, **FAST) as two:

            async def one_serves_b() -> bool:
                return (await one.get("/config/active")).json()["version"] == b.version

            await eventually(one_serves_b, timeout=5)
            assert (await one.head("/heartbeat/w-1")).status_code == 202
            moved = (
                await one.post("/heartbeat", json=worker("w-1", config_version=a.version))
            ).json()
            assert moved["config"]["version"] == b.version
            assert moved["config"]["payload"]["config"]["model"] == "large"
            assert moved["config"]["restart_required"] is True  # /config/model changed
            assert moved["config"]["generation"] > first["config"]["generation"]
            assert (await one.head("/heartbeat/w-1")).status_code == 200

            versions = (await two.get("/config/versions")).json()
            assert versions["active"]["version"] == b.version
            assert versions["active"]["revision"] == 2
            assert {v["version"] for v in versions["versions"]} == {a.version, b.version}
            assert [h["version"] for h in versions["history"]] == [b.version, a.version]
            assert versions["history"][0]["previous"] == a.version
            assert {c["revision"] for c in versions["claims"]} == {1, 2}

            diff = (await one.get(f"/config/diff?from={a.version}&to={b.version}")).json()
            assert diff["major"] is True
            assert diff["profiles"][0]["major_paths"] == ["/config/model"]
            unknown = await one.get(f"/config/diff?from={a.version}&to=sha256:nope")
            assert unknown.status_code == 404
            assert unknown.json()["field"] == "to"
            missing = await one.get("/config/diff?to=x")
            assert missing.status_code == 400

        # The newer replica stopped gracefully (claim withdrawn): A is active again.
        async def one_serves_a() -> bool:
            return (await one.get("/config/active")).json()["version"] == a.version

        await eventually(one_serves_a, timeout=5)
        history = (await one.get("/config/versions")).json()["history"]
        assert [h["version"] for h in history] == [a.version, b.version, a.version]


async def test_drift_counts_every_live_agent_by_reported_version(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, deploy_revision=1, **FAST) as c:
        for i in range(4):
            await c.post("/heartbeat", json=worker(f"on-{i}", config_version=a.version))
        for i in range(3):
            await c.post("/heartbeat", json=worker(f"old-{i}", config_version="sha256:old"))
        await c.post("/heartbeat", json=worker("older-0", config_version="sha256:older"))
        for i in range(2):
            await c.post("/heartbeat", json=worker(f"none-{i}"))  # reports no version
        await c.post("/heartbeat", json=worker("gone-1", config_version=a.version))
        await c.delete("/agents/gone-1")
        typo = agent("typo-1", tool("search", "search"), profile="wrker", config_version="x")
        await c.post("/heartbeat", json=typo)
        report = (await c.get("/drift")).json()
        assert report["active_version"] == a.version
        p, stray = report["profiles"]
        # A profile the bundle does not define is listed, and flagged.
        assert (stray["profile"], stray["in_bundle"], stray["agents"]) == ("wrker", False, 1)
        assert stray["on_other"] == {"x": ["typo-1"]}
        assert p["profile"] == "worker"
        assert p["in_bundle"] is True
        assert p["agents"] == 10
        assert p["on_active"] == 4
        assert p["on_other"] == {
            "sha256:old": ["old-0", "old-1", "old-2"],
            "sha256:older": ["older-0"],
        }
        assert p["unknown"] == ["none-0", "none-1"]
        assert p["convergence_ratio"] == pytest.approx(4 / 8)
        assert p["convergence_percent"] == 50.0
        gauge = REGISTRY.get_sample_value(
            "registry_config_convergence_ratio", {"profile": "worker"}
        )
        assert gauge == pytest.approx(0.5)


async def test_capability_injection_reaches_the_agent_at_its_next_heartbeat(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, admin_token=TOKEN, **FAST) as c:
        first = (await c.post("/heartbeat", json=worker("w-1", config_version=a.version))).json()
        caps_v = first["capabilities"]["version"]
        assert (await c.head("/heartbeat/w-1")).status_code == 200
        body = {"capabilities": [{"name": "forecast", "version": "1.0.0"}]}
        url = "/admin/agents/w-1/capabilities"
        assert (await c.put(url, json=body)).status_code == 401
        wrong = await c.put(url, json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        assert wrong.headers["content-type"] == "application/problem+json"
        done = (await c.put(url, json=body, headers=ADMIN)).json()
        assert done["updated"] is True and done["live"] is True
        # The next HEAD asks for a POST, whose answer carries the assignment.
        assert (await c.head("/heartbeat/w-1")).status_code == 202
        got = (
            await c.post(
                "/heartbeat",
                json=worker("w-1", config_version=a.version, capabilities_version=caps_v),
            )
        ).json()
        assert got["capabilities"] == {
            "version": done["version"],
            "changed": True,
            "source": "assigned",
            "assigned": [{"name": "forecast", "version": "1.0.0"}],
        }
        assert (await c.head("/heartbeat/w-1")).status_code == 200

        bad = await c.put(url, json={"capabilities": [{"name": "nope"}]}, headers=ADMIN)
        assert bad.status_code == 422
        assert bad.json()["field"] == "capabilities[0].name"
        cyclic = await c.put(url, json={"capabilities": [{"name": "ping"}]}, headers=ADMIN)
        assert cyclic.status_code == 422
        assert "cycle" in cyclic.json()["detail"]
        unknown = await c.put("/admin/agents/ghost/capabilities", json=body, headers=ADMIN)
        assert unknown.status_code == 404

        avail = (await c.get(f"{url}/available", headers=ADMIN)).json()["capabilities"]
        # forecast needs geocode, which no live agent provides; ping/pong need each other.
        assert avail == ["geocode", "search"]
        await c.post("/heartbeat", json=agent("geo-1", tool("geo", "geocode", version="1.4.0")))
        avail = (await c.get(f"{url}/available", headers=ADMIN)).json()["capabilities"]
        assert avail == ["forecast", "geocode", "search"]


async def test_validation_names_missing_conflicting_and_cyclic_dependencies(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, admin_token=TOKEN, **FAST) as c:

        async def validate(cap: dict[str, Any]) -> dict[str, Any]:
            r = await c.post("/admin/capabilities/validate", json=cap, headers=ADMIN)
            assert r.status_code == 200, r.text
            return dict(r.json())

        ok = await validate({"name": "forecast"})
        assert ok == {"capability": "forecast", "valid": True, "problems": []}
        missing = await validate(
            {"name": "x", "dependencies": [{"capability": "nowhere", "version": "*"}]}
        )
        assert [(p["kind"], p["dependency"]) for p in missing["problems"]] == [
            ("missing", "nowhere")
        ]
        conflict = await validate(
            {"name": "x", "dependencies": [{"capability": "geocode", "version": ">=2"}]}
        )
        assert conflict["problems"][0]["kind"] == "version_conflict"
        assert "1.3.0, 1.4.0" in conflict["problems"][0]["reason"]
        disjoint = await validate(
            {
                "name": "x",
                "dependencies": [
                    {"capability": "geocode", "version": "~1.3"},
                    {"capability": "geocode", "version": ">=1.4"},
                ],
            }
        )
        assert [p["kind"] for p in disjoint["problems"]] == ["version_conflict"]
        cycle = await validate({"name": "ping"})
        assert cycle["valid"] is False
        assert cycle["problems"][0]["reason"] == "dependency cycle: ping -> pong -> ping"


async def test_admin_endpoints_refuse_without_a_configured_token(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, **FAST) as c:
        r = await c.post("/admin/capabilities/validate", json={"name": "x"}, headers=ADMIN)
        assert r.status_code == 403
        assert "REGISTRY_ADMIN_TOKEN" in r.json()["detail"]


async def test_lost_assignment_is_counted_and_recorded(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    before = REGISTRY.get_sample_value("registry_capability_assignments_lost_total") or 0.0
    async with app_client(bundle_dir=a.path, **FAST) as c:
        body = worker("w-9", config_version=a.version, capabilities_version="a:0123456789abcdef")
        got = (await c.post("/heartbeat", json=body)).json()
        # Back to the profile's defaults, and the loss is visible.
        assert got["capabilities"]["source"] == "profile"
        assert got["capabilities"]["changed"] is True
        after = REGISTRY.get_sample_value("registry_capability_assignments_lost_total")
        assert after == before + 1
        events = (await c.get("/events?agent_id=w-9&type=assignment-lost")).json()["events"]
        assert "assignment-lost" in [e["type"] for e in events]


async def test_without_bundle_heartbeat_answers_keep_the_mcp_mesh_shape(client: Any) -> None:
    body = (await client.post("/heartbeat", json=worker("w-1"))).json()
    assert "config" not in body and "capabilities" not in body
    assert (await client.get("/drift")).json()["profiles"][0]["unknown"] == ["w-1"]
