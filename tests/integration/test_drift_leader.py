"""One replica holds the drift lease and scans the fleet; the others publish its shared
report. When the leader dies, another replica takes the lease over."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from config_bundles import worker_bundle
from support import RegistryProcess, eventually, start_registry

from service.settings import Thresholds

pytestmark = pytest.mark.timeout(90)

LONG_LIVED = Thresholds(heartbeat_interval=5, degraded_after=30, expire_after=60, retention=120)


async def _metric(url: str, name: str, labels: str = "") -> float | None:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{url}/metrics")).text
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def test_one_replica_leads_drift_and_another_takes_over_when_it_dies(
    tmp_path: Path, redis_url: str, processes: list[RegistryProcess]
) -> None:
    bundle = worker_bundle(tmp_path / "a", thresholds=LONG_LIVED)
    env = {
        "REGISTRY_REDIS_URL": redis_url,
        "REGISTRY_BUNDLE_DIR": str(bundle.path),
        "REGISTRY_DEPLOY_REVISION": "1",
        "REGISTRY_DRIFT_INTERVAL": "0.2",
        "REGISTRY_LOG_LEVEL": "warning",
    }
    processes += [start_registry(tmp_path, **env), start_registry(tmp_path, **env)]
    reported = {"on": bundle.version, "off": "sha256:" + "0" * 64, "none": None}
    async with httpx.AsyncClient(timeout=5) as http:
        for agent_id, version in reported.items():
            body = {"agent_id": agent_id, "name": "worker", "profile": "worker", "tools": []}
            if version:
                body["config_version"] = version
            r = await http.post(f"{processes[0].url}/heartbeat", json=body)
            assert r.status_code == 200

    worker = '{profile="worker"}'

    async def settled() -> bool:
        # One leader; both replicas show the fleet's numbers: of the two agents that report
        # a version, one runs the active one (the agent reporting none is left out).
        leaders = [await _metric(r.url, "registry_drift_leader") for r in processes]
        ratios = [
            await _metric(r.url, "registry_config_convergence_ratio", worker) for r in processes
        ]
        drifted = [
            await _metric(r.url, "registry_config_drifted_agents", worker) for r in processes
        ]
        return sorted(leaders) == [0.0, 1.0] and ratios == [0.5, 0.5] and drifted == [1.0, 1.0]

    await eventually(settled, timeout=20)
    flags = [await _metric(r.url, "registry_drift_leader") for r in processes]
    leader, other = processes if flags[0] == 1.0 else processes[::-1]
    leader.proc.kill()  # no graceful hand-over: the lease has to expire
    leader.proc.wait(10)
    processes.remove(leader)

    async def took_over() -> bool:
        return await _metric(other.url, "registry_drift_leader") == 1.0

    await eventually(took_over, timeout=20)
    assert await _metric(other.url, "registry_config_convergence_ratio", worker) == 0.5
