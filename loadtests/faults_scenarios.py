"""The fault suite's scenarios: each on a fresh topology, two replicas and a fresh fleet.

A scenario waits for the steady state (every agent registered and listed, every consumer
wiring all of its providers), starts counting, lets one interval pass, does its fault and
its recovery, waits ``settle`` seconds (by default two expire_after plus an interval: long
enough for an expiry that mass-expiry protection held back to surface), reads the listing
one last time, and reduces what the fleet and the observer saw to figures.
"""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.faults_figures import TITLES, Config, figures, missed
from loadtests.faults_fleet import Fleet
from loadtests.faults_observe import Observer, Snapshot, unwired_after
from loadtests.faults_topology import Cluster, Sentinels, Standalone, Topology
from loadtests.procs import Proc, start_registry

REPLICA_DOWN = 5.0  # (a)
REDIS_STOPPED = 2.0  # (c)


@dataclass
class Run:
    """A scenario's processes and clients."""

    cfg: Config
    work: Path
    topo: Topology
    env: dict[str, str]
    replicas: list[Proc]
    fleet: Fleet
    obs: Observer

    def start_replica(self, port: int | None = None) -> Proc:
        url = self.env["REGISTRY_REDIS_URL"]
        return start_registry(self.work, url, env=self.env, port=port)


def _sweep_leader(replicas: list[Proc]) -> int | None:
    """The replica holding the sweep lease (killing it makes the handover part of the fault)."""
    for i, r in enumerate(replicas):
        try:
            text = urllib.request.urlopen(f"{r.url}/metrics", timeout=2).read().decode()
        except OSError:
            continue
        if any(line.startswith("registry_sweep_leader 1") for line in text.splitlines()):
            return i
    return None


async def _replica_restart(run: Run) -> dict[str, Any]:
    leader = await asyncio.to_thread(_sweep_leader, run.replicas)
    k = leader or 0
    victim = run.replicas[k]
    on_victim = sum(1 for a in run.fleet.live() if a.current == k)
    victim.proc.kill()
    victim.proc.wait(5)
    await asyncio.sleep(REPLICA_DOWN)
    started = time.monotonic()
    run.replicas[k] = await asyncio.to_thread(run.start_replica, victim.port)
    return {
        "killed_sweep_leader": leader is not None,
        "agents_on_killed_replica": on_victim,
        "replica_down_s": REPLICA_DOWN,
        "restart_s": round(time.monotonic() - started, 2),
    }


async def _redis_restart(run: Run) -> dict[str, Any]:
    assert isinstance(run.topo, Standalone)
    started = time.monotonic()
    await asyncio.to_thread(run.topo.restart_empty)
    return {"redis_down_s": round(time.monotonic() - started, 2)}


async def _redis_pause(run: Run) -> dict[str, Any]:
    assert isinstance(run.topo, Standalone)
    run.topo.pause(signal.SIGSTOP)
    try:
        await asyncio.sleep(REDIS_STOPPED)
    finally:
        run.topo.pause(signal.SIGCONT)
    return {"redis_stopped_s": REDIS_STOPPED}


async def _failover(run: Run) -> dict[str, Any]:
    assert isinstance(run.topo, Sentinels | Cluster)
    took = await asyncio.to_thread(run.topo.failover)
    return {"failover_s": round(took, 2)}


async def _kill_agents(run: Run) -> dict[str, Any]:
    fleet = run.fleet
    n = len(fleet.agents) // 2
    # Every other provider first, then the rest; consumers survive (they are the witnesses).
    order = sorted(range(len(fleet.providers)), key=lambda i: (i % 2, i))
    victims = [fleet.providers[i] for i in order[:n]]
    fleet.kill(victims)
    deadline = time.monotonic() + run.cfg.unwire_bound + 3
    while time.monotonic() < deadline:
        if all(None not in unwired_after(run.obs, fleet, a) for a in victims):
            break
        await asyncio.sleep(0.5)
    return {"killed": len(victims)}


FAULTS: dict[str, Callable[[Run], Awaitable[dict[str, Any]]]] = {
    "a": _replica_restart,
    "b": _redis_restart,
    "c": _redis_pause,
    "d": _failover,
    "e": _failover,
    "f": _kill_agents,
}


def _topology(key: str, work: Path) -> Topology:
    if key == "d":
        return Sentinels(work)
    if key == "e":
        return Cluster(work)
    return Standalone(work)


async def run_scenario(key: str, cfg: Config, work: Path) -> dict[str, Any]:
    """Run scenario ``key`` in ``work`` (its logs stay there) and return its figures."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    topo = _topology(key, work)
    replicas: list[Proc] = []
    fleet: Fleet | None = None
    obs: Observer | None = None
    try:
        t0 = time.monotonic()
        await asyncio.to_thread(topo.start)
        env = cfg.registry_env() | topo.registry_env()
        url = env["REGISTRY_REDIS_URL"]
        replicas = list(
            await asyncio.gather(
                *(asyncio.to_thread(start_registry, work, url, env=env) for _ in range(2))
            )
        )
        urls = [r.url for r in replicas]
        fleet = Fleet(urls, cfg.agents, cfg.consumers, cfg.interval, timeout=3.0)
        obs = Observer(urls)
        run = Run(cfg, work, topo, env, replicas, fleet, obs)
        begun = time.monotonic()
        obs.start()
        fleet.start()
        steady = await obs.wait_steady(fleet, within=30 + cfg.agents / 20)
        if steady is None:
            return {"scenario": key, "title": TITLES[key], "goals_missed": ["no steady state"]}
        fleet.counting = True
        await asyncio.sleep(cfg.interval)
        fault_at = time.monotonic()
        notes = await FAULTS[key](run)
        await asyncio.sleep(cfg.settle_s)
        final = await _last_listings(obs)
        await obs.read_events()
        out = figures(key, cfg, fleet, obs, (steady - begun, steady, fault_at), final)
        out["fault"] = notes
        out["setup_s"] = round(begun - t0, 2)  # the topology, then both replicas
        out["goals_missed"] = missed(key, cfg, out)
        return out
    finally:
        if fleet is not None:
            await fleet.close()
        if obs is not None:
            await obs.close()
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in replicas))
        await asyncio.to_thread(topo.stop)


async def _last_listings(obs: Observer) -> list[Snapshot]:
    """Each replica's listing (each given 10 s to answer)."""
    out = []
    for r in range(len(obs.urls)):
        deadline = time.monotonic() + 10
        while True:
            snap = await obs.snapshot(r)
            if snap.statuses is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        out.append(snap)
    return out
