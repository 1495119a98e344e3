"""Config rollouts with real replica processes and a fleet of RegistryClients on one Redis:
the walk 10% -> 50% -> 100%, a bad payload and dead canaries rolled back by the gate, and the
gate leader SIGKILLed mid-rollout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from config_bundles import client_registration, worker_bundle
from support import RegistryProcess, eventually, start_registry

from service.bundle import Bundle
from service.client import Backoff, ConfigUpdate, RegistryClient
from service.domain.rollout import bucket, entry_step
from service.settings import Thresholds

pytestmark = pytest.mark.timeout(150)

INTERVAL = 0.5
# Degraded after 6 intervals: up to 200 clients share one event loop with the test on two
# busy cores, and one that lags 1.5 s (3 intervals) must not read to the gate as an unhealthy
# canary (it once rolled a healthy candidate back). Dead canaries still expire within 4 s.
THRESHOLDS = Thresholds(
    heartbeat_interval=INTERVAL, degraded_after=3.0, expire_after=4.0, retention=60
)
CHECK = 0.25  # the gate's period
TOKEN = "s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _start(workdir: Path, redis_url: str, bundle: Bundle, revision: int) -> RegistryProcess:
    assert bundle.path is not None
    return start_registry(
        workdir,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_DEPLOY_REVISION=str(revision),
        REGISTRY_CONFIG_REFRESH="0.2",
        REGISTRY_CONFIG_CLAIM_TTL="3.0",
        REGISTRY_ADMIN_TOKEN=TOKEN,
        REGISTRY_LOG_LEVEL="warning",
    )


def _policy(*shares: float, hold: float, **gate: float) -> dict[str, Any]:
    return {
        "steps": [{"share": s, "hold_seconds": hold} for s in shares],
        "gate": {"min_sample": 5, **gate},
        "check_seconds": CHECK,
    }


class Agent:
    """A RegistryClient recording every config it was handed (applied or not)."""

    def __init__(self, agent_id: str, urls: list[str], bad: str | None = None) -> None:
        self.id = agent_id
        self.seen: list[tuple[float, ConfigUpdate]] = []
        self.bad = bad
        self.client = RegistryClient(
            urls,
            client_registration(agent_id),
            interval=INTERVAL,
            backoff=Backoff(base=0.05, cap=0.5),
            on_config=self._apply,
        )
        self.task: asyncio.Task[None] | None = None

    def _apply(self, update: ConfigUpdate) -> None:
        self.seen.append((time.time(), update))
        if update.version == self.bad:
            raise RuntimeError("the candidate's payload does not apply")

    @property
    def version(self) -> str | None:
        return self.client.state.config_version

    def versions(self) -> list[str]:
        return [u.version for _, u in self.seen]

    def start(self) -> None:
        self.task = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        self.client.stop()
        if self.task is not None:
            await self.task


async def _rollout(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    return dict((await http.get(f"{url}/config/rollout")).json())


def _cohort(rid: str, ids: list[str], shares: tuple[float, ...], step: int) -> set[str]:
    return {i for i in ids if entry_step(bucket("worker", i, rid), shares) <= step}


async def _fleet(urls: list[str], n: int, bad: str | None = None) -> list[Agent]:
    fleet = [
        Agent(f"w-{i:03d}", urls[i % len(urls) :] + urls[: i % len(urls)], bad) for i in range(n)
    ]
    for a in fleet:
        a.start()
    return fleet


async def test_the_rollout_walks_10_50_100_with_sticky_cohorts_on_both_replicas(
    tmp_path: Path, redis_url: str, processes: list[RegistryProcess]
) -> None:
    shares = (10.0, 50.0, 100.0)
    a = worker_bundle(tmp_path / "a", greeting="hi", thresholds=THRESHOLDS)
    b = worker_bundle(
        tmp_path / "b", greeting="hello", thresholds=THRESHOLDS, rollout=_policy(*shares, hold=3)
    )
    old = _start(tmp_path, redis_url, a, 1)
    processes.append(old)
    fleet = await _fleet([old.url], 200)
    ids = [x.id for x in fleet]
    try:
        await eventually(lambda: _all_on(fleet, a.version), timeout=30, every=0.1)
        new = _start(tmp_path, redis_url, b, 2)
        processes.append(new)
        for x in fleet[::2]:  # half the fleet fails over to the new replica
            x.client.urls = [new.url, old.url]
        async with httpx.AsyncClient(timeout=10) as http:
            view = await eventually(lambda: _open(http, old.url), timeout=10)
            rid = view["id"]
            fractions = []
            for step, share in enumerate(shares):
                cohort = _cohort(rid, ids, shares, step)
                fractions.append(100 * len(cohort) / len(ids))
                # A hash of 200 ids: binomial, so within 4 standard deviations of the share
                # (±14 points at 50%), whatever the rollout id; 0 and 100 are exact.
                spread = 4 * 100 * (share / 100 * (1 - share / 100) / len(ids)) ** 0.5
                assert abs(fractions[-1] - share) <= spread, (step, fractions)

                async def reached(c: set[str] = cohort) -> bool:
                    # Nobody outside the cohort of the step the replicas are at (read after
                    # the agents, so it is at least the step they were served at) has B.
                    on_b = _on(fleet, b.version)
                    view = await _rollout(http, new.url)
                    now = len(shares) - 1 if view["state"] == "complete" else view["step"]
                    assert on_b <= _cohort(rid, ids, shares, now), now
                    return on_b >= c

                await eventually(reached, timeout=15)
            done = await eventually(lambda: _state(http, old.url, "complete"), timeout=20)
            decisions = [d["decision"] for d in reversed(done["decisions"])]
            assert decisions == ["start", "promote", "promote", "complete"]
            active = (await http.get(f"{new.url}/config/active")).json()["version"]
            assert active == b.version
    finally:
        for x in fleet:
            await x.stop()
    # Sticky: every agent applied A, then B once, never back (whichever replica answered).
    for x in fleet:
        assert x.versions() == [a.version, b.version], x.id


async def test_a_payload_that_fails_to_apply_is_rolled_back_and_never_leaves_its_cohort(
    tmp_path: Path, redis_url: str, processes: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", greeting="hi", thresholds=THRESHOLDS)
    b = worker_bundle(
        tmp_path / "b", greeting="bad", thresholds=THRESHOLDS, rollout=_policy(10, 100, hold=60)
    )
    one, two = _start(tmp_path, redis_url, a, 1), _start(tmp_path, redis_url, a, 1)
    processes += [one, two]
    fleet = await _fleet([one.url, two.url], 200, bad=b.version)
    ids = [x.id for x in fleet]
    try:
        await eventually(lambda: _all_on(fleet, a.version), timeout=30, every=0.1)
        processes.append(_start(tmp_path, redis_url, b, 2))
        async with httpx.AsyncClient(timeout=10) as http:
            view = await eventually(lambda: _open(http, one.url), timeout=10)
            cohort = _cohort(view["id"], ids, (10, 100), 0)
            done = await eventually(lambda: _state(http, two.url, "rolled-back"), timeout=20)
            assert "failures" in done["reason"]
            rolled_back_ms = next(d for d in done["decisions"] if d["decision"] == "rolled-back")[
                "at"
            ]
            # Everyone is back on A; the cohort took it back with a higher generation.
            await eventually(lambda: _all_on(fleet, a.version), timeout=10, every=0.1)
            active = (await http.get(f"{two.url}/config/versions")).json()["history"][0]
            assert active["source"] == "rollback" and active["version"] == a.version
    finally:
        for x in fleet:
            await x.stop()
    handed = {x.id for x in fleet if b.version in x.versions()}
    assert handed and handed <= cohort  # nobody outside the cohort ever received it
    # Within two heartbeat intervals of the cohort's first failure report (plus the time a
    # loaded machine takes to schedule 200 clients: a functional bound, not a benchmark).
    first_failure = min(t for x in fleet for t, u in x.seen if u.version == b.version)
    assert _epoch(rolled_back_ms) - first_failure <= 2 * INTERVAL + 1.0


async def test_dead_canaries_expire_and_the_gate_rolls_back(
    tmp_path: Path, redis_url: str, processes: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", greeting="hi", thresholds=THRESHOLDS)
    b = worker_bundle(
        tmp_path / "b",
        greeting="hello",
        thresholds=THRESHOLDS,
        # Degraded canaries are tolerated here, so the expiry signal is the one that trips.
        rollout=_policy(20, 100, hold=60, max_degraded_excess=1.0),
    )
    old = _start(tmp_path, redis_url, a, 1)
    processes.append(old)
    fleet = await _fleet([old.url], 60)
    try:
        await eventually(lambda: _all_on(fleet, a.version), timeout=30, every=0.1)
        processes.append(_start(tmp_path, redis_url, b, 2))
        async with httpx.AsyncClient(timeout=10) as http:
            view = await eventually(lambda: _open(http, old.url), timeout=10)
            cohort = _cohort(view["id"], [x.id for x in fleet], (20, 100), 0)
            await eventually(lambda: _exactly(fleet, b.version, cohort), timeout=15)
            for x in fleet:
                if x.id in cohort:  # the candidate "kills" its agents
                    await x.stop()
            done = await eventually(lambda: _state(http, old.url, "rolled-back"), timeout=30)
            assert "expired" in done["reason"]
    finally:
        for x in fleet:
            await x.stop()


async def test_the_other_replica_finishes_the_rollout_when_the_leader_is_killed(
    tmp_path: Path, redis_url: str, processes: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", greeting="hi", thresholds=THRESHOLDS)
    b = worker_bundle(
        tmp_path / "b", greeting="hello", thresholds=THRESHOLDS, rollout=_policy(30, 100, hold=4)
    )
    processes += [_start(tmp_path, redis_url, a, 1)]
    fleet = await _fleet([processes[0].url], 50)
    try:
        # The fleet is on A before B's replicas start: a rollout with no versioned agent
        # has nothing to judge and would be promoted through before the kill.
        await eventually(lambda: _all_on(fleet, a.version), timeout=30, every=0.1)
        processes += [_start(tmp_path, redis_url, b, 2), _start(tmp_path, redis_url, b, 2)]
        urls = [r.url for r in processes]
        for i, x in enumerate(fleet):
            x.client.urls = urls[i % 3 :] + urls[: i % 3]
        async with httpx.AsyncClient(timeout=10) as http:
            await eventually(lambda: _open(http, urls[0]), timeout=20)
            leader = await eventually(lambda: _leader(http, processes), timeout=20)
            assert (await _rollout(http, urls[0]))["state"] == "running"  # mid-rollout
            leader.proc.kill()  # SIGKILL: no withdrawal, the lease lapses
            alive = next(r for r in processes if r is not leader)
            done = await eventually(lambda: _state(http, alive.url, "complete"), timeout=40)
            assert done["decisions"][0]["decision"] == "complete"
            await eventually(lambda: _all_on(fleet, b.version), timeout=15, every=0.1)
    finally:
        for x in fleet:
            await x.stop()


async def _all_on(fleet: list[Agent], version: str) -> bool:
    return all(x.version == version for x in fleet)


def _on(fleet: list[Agent], version: str) -> set[str]:
    return {x.id for x in fleet if x.version == version}


async def _exactly(fleet: list[Agent], version: str, ids: set[str]) -> bool:
    return _on(fleet, version) == ids


async def _open(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    view = await _rollout(http, url)
    return view if view["state"] == "running" else None


async def _state(http: httpx.AsyncClient, url: str, state: str) -> dict[str, Any] | None:
    view = await _rollout(http, url)
    return view if view["state"] == state else None


async def _leader(
    http: httpx.AsyncClient, processes: list[RegistryProcess]
) -> RegistryProcess | None:
    for r in processes:
        text = (await http.get(f"{r.url}/metrics")).text
        if "registry_rollout_leader 1.0" in text:
            return r
    return None


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
