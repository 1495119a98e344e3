"""A stock MCP Mesh SDK agent against a replica serving a config bundle: it sends none of
our extension fields, still registers and stays healthy, and shows as "unknown" in /drift."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from config_bundles import worker_bundle
from support import eventually, free_port

from service.settings import Thresholds

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def test_mcp_mesh_agent_works_and_reports_unknown_config_version(
    registry_process, mesh_agent, tmp_path: Path
) -> None:
    # The SDK heartbeats every 5 s: the profile (the agent's name) must tolerate that.
    bundle = worker_bundle(
        tmp_path / "bundle",
        profile="greeter",
        thresholds=Thresholds(
            heartbeat_interval=5, degraded_after=7, expire_after=10, retention=30
        ),
    )
    registry = registry_process(REGISTRY_BUNDLE_DIR=str(bundle.path), REGISTRY_DEPLOY_REVISION="1")
    mesh_agent("greeter", free_port(), registry.url)
    async with httpx.AsyncClient(base_url=registry.url) as http:

        async def greeter_drift() -> dict[str, object]:
            agents = (await http.get("/agents")).json()["agents"]
            if not any(a["name"] == "greeter" and a["status"] == "healthy" for a in agents):
                return {}
            profiles = (await http.get("/drift")).json()["profiles"]
            return next((p for p in profiles if p["profile"] == "greeter" and p["agents"]), {})

        drift = await eventually(greeter_drift, timeout=60, every=0.25)
        assert drift["active_version"] == bundle.version
        assert drift["on_active"] == 0
        assert drift["on_other"] == {}
        assert len(drift["unknown"]) == 1 and str(drift["unknown"][0]).startswith("greeter")
        assert drift["convergence_ratio"] == 1.0  # unknown agents do not count against it
        # Its lease came from the bundle's profile, and it is still healthy after a few HEADs.
        health = (await http.get(f"/agents/{drift['unknown'][0]}/health")).json()
        assert health["expire_after_ms"] == 10000
        assert health["status"] == "healthy"
