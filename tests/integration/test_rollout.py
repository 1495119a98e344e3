"""Config rollouts through in-process replicas on a real Redis: a candidate bundle with a
policy is served to a sticky cohort, promoted on a clean hold, rolled back on a breach, and
controlled by an operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apps import ClientFactory
from config_bundles import worker, worker_bundle
from support import eventually

from service.bundle import Bundle
from service.domain.rollout import bucket, entry_step

FAST = {"config_refresh": 0.1, "config_claim_ttl": 0.5}
TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def policy(*shares: float, hold: float = 0.3, **gate: float) -> dict[str, Any]:
    """Steps of ``shares`` held ``hold`` s, gate checks every 0.1 s."""
    return {
        "steps": [{"share": s, "hold_seconds": hold} for s in shares],
        "gate": {"min_sample": 5, **gate},
        "check_seconds": 0.1,
    }


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Bundle, Bundle]:
    """A (no policy) and B (a 50% -> 100% policy held 30 s: promotion is manual here)."""
    return (
        worker_bundle(tmp_path / "a", model="small"),
        worker_bundle(tmp_path / "b", model="large", rollout=policy(50, 100, hold=30)),
    )


async def _beat(c: Any, agent_id: str, version: str | None, **extra: Any) -> dict[str, Any]:
    body = worker(agent_id, **({"config_version": version} if version else {}), **extra)
    r = await c.post("/heartbeat", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json()["config"])


async def test_candidate_goes_to_a_sticky_cohort_and_an_abort_brings_everyone_back(
    app_client: ClientFactory, pair: tuple[Bundle, Bundle]
) -> None:
    a, b = pair
    ids = [f"w-{i}" for i in range(40)]
    async with app_client(bundle_dir=a.path, deploy_revision=1, admin_token=TOKEN, **FAST) as one:
        for i in ids:
            assert (await _beat(one, i, None))["version"] == a.version
            await _beat(one, i, a.version)
        async with app_client(bundle_dir=b.path, deploy_revision=2, **FAST) as two:

            async def running() -> bool:
                return (await one.get("/config/rollout", headers=ADMIN)).json()[
                    "state"
                ] == "running"

            await eventually(running, timeout=5)
            view = (await one.get("/config/rollout", headers=ADMIN)).json()
            rid = view["id"]
            assert view["candidate"] == b.version and view["baseline"] == a.version
            assert (await one.get("/config/active")).json()["version"] == a.version
            # Every agent is asked for one POST to be placed; half go to the candidate.
            served = {}
            for i in ids:
                assert (await one.head(f"/heartbeat/{i}")).status_code == 202
                served[i] = await _beat(two, i, a.version)
            expected = {i for i in ids if entry_step(bucket("worker", i, rid), (50, 100)) == 0}
            on_b = {i for i, cfg in served.items() if cfg["version"] == b.version}
            assert on_b == expected and 0 < len(on_b) < len(ids)
            for i in on_b:
                assert served[i]["payload"]["config"]["model"] == "large"
                await _beat(one, i, b.version, config_status="applied")
            # Sticky, and both replicas agree: nothing moves on HEAD or POST.
            for i in ids:
                for c in (one, two):
                    assert (await c.head(f"/heartbeat/{i}")).status_code == 200
                want = b.version if i in on_b else a.version
                assert (await _beat(two, i, want))["changed"] is False
            # A stock agent (no version) is never placed, and is reported as not gating.
            assert (await _beat(one, "stock", None))["version"] == a.version
            view = (await two.get("/config/rollout", headers=ADMIN)).json()
            (w,) = view["profiles"]
            assert w["candidate"]["agents"] == len(on_b)
            assert w["baseline"]["agents"] == len(ids) - len(on_b)
            assert w["not_gating"] == 1

            r = await one.post("/admin/config/rollout/abort", headers=ADMIN)
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "aborted"

            async def two_knows() -> bool:
                return (await two.get("/config/rollout")).json()["state"] == "aborted"

            await eventually(two_knows, timeout=5)
            codes = {i: (await two.head(f"/heartbeat/{i}")).status_code for i in ids}
            assert {i for i, code in codes.items() if code == 202} == on_b
            for i in on_b:
                cfg = await _beat(two, i, b.version)
                assert cfg["version"] == a.version and cfg["generation"] > served[i]["generation"]
            # The candidate stays refused while it is the best claim.
            assert (await two.get("/config/active")).json()["version"] == a.version
