"""A stock MCP Mesh SDK agent through a config rollout: it reports no config version, so it
is never placed in a cohort and never gates. It stays on the active bundle, healthy and
registered, while versioned agents of its profile move to the candidate step by step, and
after the candidate becomes active."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_data import agent, tool
from config_bundles import worker_bundle
from support import eventually, free_port

from service.settings import Thresholds

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# The SDK heartbeats every 5 s: the profile (the agent's name) must tolerate that.
SDK = Thresholds(heartbeat_interval=5, degraded_after=12, expire_after=20, retention=60)
# Short holds: the leader promotes on its own once each candidate cohort reports the version.
POLICY = {
    "steps": [{"share": 50, "hold_seconds": 3}, {"share": 100, "hold_seconds": 3}],
    "gate": {"min_sample": 5},
    "check_seconds": 0.25,
}
SIMS = [f"sim-{i}" for i in range(8)]
SIM_INTERVAL = 0.5  # the simulated agents' heartbeat cadence


class Sims:
    """Versioned agents of the ``greeter`` profile, heartbeating over plain HTTP: a HEAD each
    interval, a POST reporting the version they run when it answers anything but 200, and a
    second POST reporting the version they were served when it changed."""

    def __init__(self, version: str) -> None:
        self.version = dict.fromkeys(SIMS, version)

    async def post(self, http: httpx.AsyncClient, agent_id: str) -> None:
        body = agent(
            agent_id,
            tool("search", "search"),
            profile="greeter",
            config_version=self.version[agent_id],
            config_status="applied",
        )
        r = await http.post("/heartbeat", json=body)
        assert r.status_code == 200, r.text
        served = r.json()["config"]["version"]
        if served != self.version[agent_id]:
            self.version[agent_id] = served
            await self.post(http, agent_id)  # applied: report it

    async def run(self, replicas: list[httpx.AsyncClient], stop: asyncio.Event) -> None:
        while not stop.is_set():
            for n, agent_id in enumerate(SIMS):
                http = replicas[n % len(replicas)]  # both replicas serve the same cohorts
                if (await http.head(f"/heartbeat/{agent_id}")).status_code != 200:
                    await self.post(http, agent_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SIM_INTERVAL)


async def test_mcp_mesh_agent_stays_on_the_active_bundle_and_never_gates_a_rollout(
    registry_process, mesh_agent, tmp_path: Path
) -> None:
    a = worker_bundle(tmp_path / "a", profile="greeter", thresholds=SDK)
    b = worker_bundle(
        tmp_path / "b", profile="greeter", thresholds=SDK, model="large", rollout=POLICY
    )
    env = {"REGISTRY_CONFIG_REFRESH": "0.2"}  # replicas follow each step within 0.2 s
    one = registry_process(REGISTRY_BUNDLE_DIR=str(a.path), REGISTRY_DEPLOY_REVISION="1", **env)
    mesh_agent("greeter", free_port(), one.url)
    async with httpx.AsyncClient(base_url=one.url, timeout=10) as h1:

        async def sdk_healthy() -> dict[str, Any]:
            agents = (await h1.get("/agents")).json()["agents"]
            return next(
                (x for x in agents if x["name"] == "greeter" and x["status"] == "healthy"), {}
            )

        sdk_id = (await eventually(sdk_healthy, timeout=60, every=0.25))["id"]
        sims = Sims(a.version)
        for agent_id in SIMS:
            await sims.post(h1, agent_id)
        assert set(sims.version.values()) == {a.version}

        two = registry_process(REGISTRY_BUNDLE_DIR=str(b.path), REGISTRY_DEPLOY_REVISION="2", **env)
        async with httpx.AsyncClient(base_url=two.url, timeout=10) as h2:
            stop = asyncio.Event()
            beating = asyncio.create_task(sims.run([h1, h2], stop))
            views: list[dict[str, Any]] = []

            async def rollout_over() -> bool:
                if beating.done():
                    beating.result()  # a simulated agent's failure fails the test here
                view = (await h1.get("/config/rollout")).json()
                record = (await h1.get(f"/agents/{sdk_id}")).json()
                assert record["config_version"] is None  # never, at any step
                assert record["status"] != "expired"
                if view["state"] == "running":
                    views.append(view)
                return view["state"] not in ("none", "running")

            try:
                await eventually(rollout_over, timeout=120, every=0.25)
            finally:
                stop.set()
                await beating

            final = (await h1.get("/config/rollout")).json()
            assert final["state"] == "complete", final
            assert final["candidate"] == b.version and final["baseline"] == a.version
            decisions = [d["decision"] for d in final["decisions"] if d["rollout"] == final["id"]]
            assert decisions == ["complete", "promote", "start"]  # newest first

            # While it ran, the SDK agent was in neither cohort and counted as not gating.
            assert views, "the rollout was never seen running"
            for view in views:
                (greeter,) = view["profiles"]
                assert greeter["profile"] == "greeter"
                assert greeter["not_gating"] == 1
                cohorts = greeter["candidate"]["agents"] + greeter["baseline"]["agents"]
                assert cohorts == len(SIMS)
            assert any(v["profiles"][0]["candidate"]["agents"] > 0 for v in views)
            assert set(sims.version.values()) == {b.version}

            # The candidate is active everywhere; the SDK agent, told so by a 202 on its
            # next HEAD, still reports no version and is healthy and registered.
            for http in (h1, h2):

                async def active_is_b(http: httpx.AsyncClient = http) -> bool:
                    return bool((await http.get("/config/active")).json()["version"] == b.version)

                await eventually(active_is_b, timeout=10, every=0.1)
            done_at = final["decisions"][0]["at"]

            async def sdk_beat_since_completion() -> dict[str, Any]:
                record = (await h2.get(f"/agents/{sdk_id}")).json()
                seen = record["last_seen"] or ""
                return record if seen > done_at else {}

            record = await eventually(sdk_beat_since_completion, timeout=30, every=0.25)
            assert record["config_version"] is None
            assert record["status"] == "healthy"
            health = (await h2.get(f"/agents/{sdk_id}/health")).json()
            assert health["status"] == "healthy"
            assert health["expire_after_ms"] == int(SDK.expire_after * 1000)
            events = (await h1.get("/events", params={"agent_id": sdk_id})).json()["events"]
            kinds = {e["type"] for e in events}
            assert kinds.isdisjoint({"degraded", "expire", "unregister", "restart"}), kinds
