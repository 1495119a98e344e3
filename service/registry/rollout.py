"""Config rollouts: the health gate that promotes or rolls back a candidate bundle.

A rollout starts in Redis (``claim_active.lua``) when a higher deploy revision claims a bundle
that carries a policy. From then on the holder of the ``rollout`` lease (one replica; another
takes over within ``_LEASE_PASSES`` checks when it dies) compares the candidate cohort with
the baseline every check: any breach of the policy's gate rolls back at once; a clean hold
promotes to the next step; past the last step the candidate becomes the active bundle.
Decisions are atomic compare-and-set calls (``rollout_decide.lua``) on the rollout id and
step, so a stale leader or a racing operator never applies one twice.

Measuring a cohort reads every agent (O(fleet)), like drift, and only while a rollout is
running; the heartbeat path never pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from service.domain.rollout import Cohort, Signal, judge
from service.errors import StoreUnavailable
from service.metrics import (
    ROLLOUT_COHORT,
    ROLLOUT_DECISIONS,
    ROLLOUT_LEADER,
    ROLLOUT_SIGNAL,
    ROLLOUT_STEP,
    STORE_ERRORS,
)
from service.registry.cohorts import LiveRollout
from service.registry.context import Registry
from service.registry.fleet import FleetConfig

log = logging.getLogger("service.rollout")
_PAGE = 500
_LEASE_PASSES = 3
_EVENTS = 10_000  # restart events read per namespace and check, at most


@dataclass
class Measure:
    """Both cohorts of each profile, and the agents that report no version (never gate)."""

    candidate: dict[str, Cohort] = field(default_factory=dict)
    baseline: dict[str, Cohort] = field(default_factory=dict)
    not_gating: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)  # in the cohort, not yet reporting


async def measure(fleet: FleetConfig, reg: Registry, live: LiveRollout) -> Measure:
    """Count each profile's candidate and baseline cohorts from Redis.

    An agent is in the candidate cohort when it reports the candidate or its entry step has
    come. Expired agents count when their last full heartbeat came after the rollout started;
    restarts are the ``restart`` events since then (heartbeat.lua).
    """
    s = live.state
    tallies: dict[tuple[str, bool], Counter[str]] = defaultdict(Counter)
    not_gating: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    placed: dict[tuple[str, str], tuple[str, bool]] = {}
    for ns in await reg.store.namespaces():
        restarted = {
            ev.fields.get("a", "")
            for ev in await reg.store.events(ns, f"{s.started_ms}-0", "+", _EVENTS)
            if ev.fields.get("t") == "restart"
        }
        after = ""
        while True:
            rows, after = await reg.store.list_agents(ns, after, _PAGE)
            for row in rows:
                doc = row.doc
                if doc.cfg is None and doc.id not in restarted:
                    # A restarted agent reports no version until it is served one again:
                    # it stays in its cohort, where its restart counts.
                    if row.live is not None:
                        not_gating[doc.prof] += 1
                    continue
                if row.live is None and doc.at < s.started_ms:
                    continue  # gone before the rollout began
                on = doc.cfg == s.candidate or s.step >= live.entry(doc.prof, doc.id)
                t = tallies[(doc.prof, on)]
                placed[(ns, doc.id)] = (doc.prof, on)
                t["agents"] += 1
                if row.live is None:
                    t["expired"] += 1
                elif row.live.status == "degraded":
                    t["degraded"] += 1
                target = s.candidate if on else s.baseline
                if doc.cfg == target:
                    t["failed" if doc.cs == "failed" else "applied"] += 1
                elif row.live is not None:
                    pending[doc.prof] += on
            if not after:
                break
        for agent_id in restarted:
            if (ns, agent_id) in placed:
                tallies[placed[(ns, agent_id)]]["restarted"] += 1
    out = Measure(not_gating=dict(not_gating), pending=dict(pending))
    for (profile, on), t in tallies.items():
        (out.candidate if on else out.baseline)[profile] = Cohort(**t)
    return out


def breaches(live: LiveRollout, m: Measure) -> list[tuple[str, Signal]]:
    """Every gate signal past its threshold, per profile."""
    out = []
    for profile, cand in sorted(m.candidate.items()):
        gate = live.policy.gate_for(live.candidate.rollout_override(profile))
        base = m.baseline.get(profile, Cohort())
        out += [(profile, b) for b in judge(gate, cand, base)]
    return out


def ready(live: LiveRollout, m: Measure) -> bool:
    """Enough of every candidate cohort reports the candidate to judge the step on."""
    for profile, cand in m.candidate.items():
        gate = live.policy.gate_for(live.candidate.rollout_override(profile))
        alive = cand.agents - cand.expired
        if cand.applied + cand.failed < min(gate.min_sample, alive):
            return False
    return True


def publish(m: Measure | None, live: LiveRollout | None) -> None:
    """Set the rollout gauges from a measure (the leader's)."""
    ROLLOUT_STEP.set(live.state.step if live is not None else -1)
    if m is None:
        return
    for cohort, part in (("candidate", m.candidate), ("baseline", m.baseline)):
        for profile, c in part.items():
            ROLLOUT_COHORT.labels(profile=profile, cohort=cohort).set(c.agents)
            n = max(c.agents, 1)
            for signal, count in (
                ("failures", c.failed),
                ("degraded", c.degraded),
                ("expired", c.expired),
                ("restarts", c.restarted),
            ):
                ROLLOUT_SIGNAL.labels(profile=profile, cohort=cohort, signal=signal).set(count / n)


async def decide(
    fleet: FleetConfig, live: LiveRollout, action: str, why: str, by: str
) -> tuple[bool, str, int]:
    """Apply one decision if the rollout is still at the judged step; record it."""
    step = live.state.step if action in ("promote", "rollback") and by != "operator" else None
    applied, state, now_step = await fleet.store.decide(
        action, live.state.id, step, len(live.policy.steps), why, by
    )
    if applied:
        ROLLOUT_DECISIONS.labels(decision=action).inc()
        log.warning("rollout %s: %s (%s) by %s", live.state.id, action, why, by)
        with contextlib.suppress(StoreUnavailable):
            await fleet.store.note_event("default", "rollout", "-", f"{action}: {why}")
        await fleet.refresh("read")  # serve the decision here at once
    return applied, state, now_step


async def check_once(reg: Registry, fleet: FleetConfig) -> str | None:
    """One gate check by the leader; the decision taken, if any."""
    live = fleet.rollout
    if live is None or live.state.state != "running":
        publish(None, live)
        return None
    m = await measure(fleet, reg, live)
    publish(m, live)
    found = breaches(live, m)
    if found:
        why = "; ".join(f"{profile}: {b.reason()}" for profile, b in found)
        applied, _, _ = await decide(fleet, live, "rollback", why, fleet.replica)
        return "rollback" if applied else None
    hb = live.candidate.default_thresholds.heartbeat_interval
    held = _now_ms() - live.state.step_since_ms >= live.policy.hold_ms(live.state.step, hb)
    if held and ready(live, m):
        share = live.policy.steps[live.state.step].share
        why = f"step {live.state.step} ({share:g}%) held clean"
        applied, _, _ = await decide(fleet, live, "promote", why, fleet.replica)
        return "promote" if applied else None
    return None


def _now_ms() -> int:
    # The step's start is Redis time; replicas' clocks are assumed NTP-close (as for
    # generations). A skew only shifts when a hold ends, never what a cohort is.
    return int(time.time() * 1000)


def period(fleet: FleetConfig, idle: float) -> float:
    """Seconds to the next check: the policy's period while a rollout runs, else ``idle``."""
    live = fleet.rollout
    if live is None:
        return idle
    return live.policy.check_ms(live.candidate.default_thresholds.heartbeat_interval) / 1000


async def run(reg: Registry, fleet: FleetConfig, idle: float, stop: asyncio.Event) -> None:
    """Gate checks until ``stop``: only the lease holder checks, only while one runs.

    Without an open rollout a pass costs nothing in Redis (the state comes with the config
    refresh every replica already does).
    """
    while not stop.is_set():
        interval = period(fleet, idle)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        if fleet.rollout is None or fleet.rollout.state.state != "running":
            ROLLOUT_LEADER.set(0)
            publish(None, fleet.rollout)
            continue
        try:
            lease_ms = int(interval * 1000 * _LEASE_PASSES)
            leader = await fleet.store.lead("rollout", fleet.replica, lease_ms)
            ROLLOUT_LEADER.set(1 if leader else 0)
            if leader:
                await check_once(reg, fleet)
        except StoreUnavailable:
            STORE_ERRORS.inc()
        except Exception:  # the loop must outlive any single bad check
            log.exception("rollout gate check failed")
