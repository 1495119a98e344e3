"""Config rollouts through in-process replicas on a real Redis: a candidate bundle with a
policy is served to a sticky cohort, promoted on a clean hold, rolled back on a breach, and
controlled by an operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apps import ClientFactory
from config_bundles import worker, worker_bundle
from support import RedisServer, eventually

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


async def test_pause_holds_the_step_promote_skips_the_hold_and_resume_on_running_is_409(
    app_client: ClientFactory, tmp_path: Path
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large", rollout=policy(10, 60, 100, hold=0.3))
    async with (
        app_client(bundle_dir=a.path, deploy_revision=1, admin_token=TOKEN, **FAST) as one,
        app_client(bundle_dir=b.path, deploy_revision=2, **FAST),
    ):

        async def view() -> dict[str, Any]:
            return dict((await one.get("/config/rollout")).json())

        async def running() -> bool:
            return (await view())["state"] == "running"

        await eventually(running, timeout=5)
        assert (await one.post("/admin/config/rollout/resume", headers=ADMIN)).status_code == 409
        paused = await one.post("/admin/config/rollout/pause", headers=ADMIN)
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        step = paused.json()["step"]

        # Paused: the 0.3 s hold passes many times over and nothing is promoted.
        async def held_for_a_while() -> bool:
            decisions = (await view())["decisions"]
            return len(decisions) >= 2 and (await view())["step"] == step

        await eventually(held_for_a_while, timeout=5)
        promoted = (await one.post("/admin/config/rollout/promote", headers=ADMIN)).json()
        assert promoted["step"] == step + 1 and promoted["state"] == "running"
        assert promoted["decisions"][0]["decision"] == "promote"
        assert promoted["decisions"][0]["by"] == "operator"
        # Without credentials the controls are refused; the read view is not.
        assert (await one.post("/admin/config/rollout/abort")).status_code in (401, 403)
        assert (await one.post("/admin/config/rollout/bogus", headers=ADMIN)).status_code == 400

        async def complete() -> bool:
            return (await view())["state"] == "complete"

        await eventually(complete, timeout=10)
        assert (await one.get("/config/active")).json()["version"] == b.version
        assert (await one.post("/admin/config/rollout/pause", headers=ADMIN)).status_code == 409


async def test_a_rollback_revision_with_an_older_bundle_activates_at_once(
    app_client: ClientFactory, tmp_path: Path
) -> None:
    a = worker_bundle(tmp_path / "a", model="small", rollout=policy(50, 100, hold=30))
    b = worker_bundle(tmp_path / "b", model="large")
    async with (
        app_client(bundle_dir=a.path, deploy_revision=1, **FAST) as one,
        app_client(bundle_dir=b.path, deploy_revision=2, **FAST),
    ):

        async def active_is(version: str) -> bool:
            return (await one.get("/config/active")).json()["version"] == version

        await eventually(lambda: active_is(b.version), timeout=5)  # no policy: at once
        # `helm rollback`: a higher revision carrying A, published before B, has a policy
        # but is an older bundle, so it activates at once too.
        async with app_client(bundle_dir=a.path, deploy_revision=3, **FAST):
            await eventually(lambda: active_is(a.version), timeout=5)
            assert (await one.get("/config/rollout")).json()["state"] == "none"


async def test_restarts_in_the_candidate_cohort_are_counted_and_trip_the_gate(
    app_client: ClientFactory, tmp_path: Path
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large", rollout=policy(50, 100, hold=30))
    ids = [f"w-{i}" for i in range(40)]
    async with app_client(bundle_dir=a.path, deploy_revision=1, **FAST) as one:
        for i in ids:
            await _beat(one, i, a.version)
        async with app_client(bundle_dir=b.path, deploy_revision=2, **FAST):

            async def view() -> dict[str, Any]:
                return dict((await one.get("/config/rollout")).json())

            async def running() -> dict[str, Any] | None:
                v = await view()
                return v if v["state"] == "running" else None

            rid = (await eventually(running, timeout=5))["id"]
            cohort = [i for i in ids if entry_step(bucket("worker", i, rid), (50, 100)) == 0]
            for i in ids:
                served = await _beat(one, i, a.version)
                await _beat(one, i, served["version"], config_status="applied")
            # A canary's process starts again without its state: no version in its POST.
            await _beat(one, cohort[0], None)
            events = (await one.get("/events", params={"type": "restart"})).json()["events"]
            assert [e["agent_id"] for e in events] == [cohort[0]]
            (w,) = (await view())["profiles"]
            assert w["candidate"]["restarted"] == 1 and w["baseline"]["restarted"] == 0
            restarts = next(s for s in w["signals"] if s["signal"] == "restarts")
            assert restarts["breached"] is False  # 1 in ~20 is within the 0.10 excess
            for i in cohort[1:4]:
                await _beat(one, i, None)

            async def rolled_back() -> dict[str, Any] | None:
                v = await view()
                return v if v["state"] == "rolled-back" else None

            done = await eventually(rolled_back, timeout=5)
            assert "restarts" in done["reason"]


async def test_after_redis_loses_its_data_mid_rollout_the_baseline_stays_and_it_starts_again(
    app_client: ClientFactory, tmp_path: Path, redis_server: RedisServer
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large", rollout=policy(50, 100, hold=30))
    async with (
        app_client(bundle_dir=a.path, deploy_revision=1, **FAST) as one,
        app_client(bundle_dir=b.path, deploy_revision=2, **FAST) as two,
    ):

        async def rollout_id() -> str | None:
            v = (await one.get("/config/rollout")).json()
            return str(v["id"]) if v["state"] == "running" else None

        first = await eventually(rollout_id, timeout=5)
        r = redis_server.client()
        r.flushall()
        r.close()

        async def again() -> str | None:
            rid = await rollout_id()
            return rid if rid not in (None, first) else None

        await eventually(again, timeout=10)
        # Whichever replica republished first, B never became active for everyone.
        for c in (one, two):
            assert (await c.get("/config/active")).json()["version"] == a.version
            history = (await c.get("/config/versions")).json()["history"]
            assert b.version not in [h["version"] for h in history]
