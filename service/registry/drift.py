"""Config drift: which live agents run a config version other than the fleet-active one.

Reading every agent of a namespace is O(agents); that is fine on this admin/read path and
in the background loop that feeds the ``registry_config_convergence_ratio`` gauge, which only
the holder of a Redis lease runs (the other replicas publish its shared report). It never
happens on the heartbeat path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import msgspec

from service.metrics import CONVERGENCE, DRIFT_LEADER, DRIFTED
from service.registry.context import Registry
from service.registry.periodic import every

log = logging.getLogger("service.drift")
_PAGE = 500
_LEASE_PASSES = 3  # a leader that misses this many passes hands over to another replica


class ProfileDrift(msgspec.Struct, kw_only=True):
    """Drift of one profile's live agents."""

    profile: str
    active_version: str
    # False for a profile agents name that the active bundle does not define (a typo, or a
    # profile whose bundle is not active yet): such agents get the version, never a payload.
    # Defaulted: a leader of the previous release shares reports without it.
    in_bundle: bool = True
    agents: int
    on_active: int
    on_other: dict[str, list[str]]
    unknown: list[str]
    convergence_ratio: float
    convergence_percent: float


class DriftReport(msgspec.Struct, kw_only=True):
    """``GET /drift``."""

    active_version: str
    generation: int
    profiles: list[ProfileDrift]


@dataclass
class _Tally:
    on_active: int = 0
    on_other: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Drifted:
    """A live agent reporting another version, and how long it has had the chance to move."""

    namespace: str
    agent_id: str
    profile: str
    version: str
    drifted_ms: int


async def compute(reg: Registry, namespace: str | None = None) -> tuple[DriftReport, list[Drifted]]:
    """Tally live agents per profile (one namespace, or all). Expired agents do not count."""
    fleet = reg.fleet
    active = fleet.active.version if fleet is not None else ""
    # A rollout's canaries run the candidate on purpose: they have not drifted.
    live = fleet.rollout if fleet is not None else None
    candidate = live.candidate.version if live is not None else None
    tallies: dict[str, _Tally] = {}
    if fleet is not None:
        for name in fleet.active.profiles:
            tallies[name] = _Tally()
    drifted: list[Drifted] = []
    names = [namespace] if namespace else await reg.store.namespaces()
    for ns in names:
        after = ""
        while True:
            rows, after = await reg.store.list_agents(ns, after, _PAGE)
            for row in rows:
                if row.live is None:
                    continue
                t = tallies.setdefault(row.doc.prof, _Tally())
                reported = row.doc.cfg
                if reported is None:
                    t.unknown.append(row.doc.id)
                elif reported in (active, candidate):
                    t.on_active += 1
                else:
                    t.on_other.setdefault(reported, []).append(row.doc.id)
                    # The generation is the activation's Redis time: drifted since then.
                    since = fleet.generation if fleet is not None else row.now_ms
                    drifted.append(
                        Drifted(ns, row.doc.id, row.doc.prof, reported, row.now_ms - since)
                    )
            if not after:  # the last page returned no ids
                break
    profiles = []
    for name in sorted(tallies):
        t = tallies[name]
        others = sum(len(v) for v in t.on_other.values())
        reporting = t.on_active + others
        ratio = t.on_active / reporting if reporting else 1.0
        profiles.append(
            ProfileDrift(
                profile=name,
                active_version=active,
                in_bundle=fleet is not None and name in fleet.active.profiles,
                agents=reporting + len(t.unknown),
                on_active=t.on_active,
                on_other={v: sorted(ids) for v, ids in sorted(t.on_other.items())},
                unknown=sorted(t.unknown),
                convergence_ratio=ratio,
                convergence_percent=round(100 * ratio, 2),
            )
        )
    generation = fleet.generation if fleet is not None else 0
    return DriftReport(active_version=active, generation=generation, profiles=profiles), drifted


_report_codec = msgspec.json.Decoder(DriftReport)


def publish_gauges(report: DriftReport) -> None:
    """Set the per-profile convergence and drifted-agent gauges from ``report``."""
    for p in report.profiles:
        CONVERGENCE.labels(profile=p.profile).set(p.convergence_ratio)
        DRIFTED.labels(profile=p.profile).set(sum(len(v) for v in p.on_other.values()))


async def check_once(reg: Registry) -> DriftReport:
    """Publish the gauges and record a ``drift`` event for agents drifted too long."""
    report, drifted = await compute(reg)
    publish_gauges(report)
    fleet = reg.fleet
    if fleet is None:
        return report
    for d in drifted:
        interval_ms = reg.profiles.thresholds_for(d.profile).heartbeat_interval * 1000
        if d.drifted_ms <= reg.settings.drift_after_intervals * interval_ms:
            continue
        # One event per agent and active version, whichever replica notices first.
        detail = f"reports {d.version}, active {report.active_version} for {d.drifted_ms} ms"
        if await fleet.store.note_once(
            d.namespace, "drift", d.agent_id, report.active_version, detail
        ):
            log.warning("agent %s drifted: %s", d.agent_id, detail)
    return report


async def pass_once(reg: Registry, interval: float) -> bool:
    """One pass of the loop; True when this replica led it.

    Only the holder of the drift lease reads every agent (O(fleet)); it shares the report
    through Redis and the other replicas publish the same gauges from it, so N replicas
    cost one fleet scan per interval, not N. A leader that stops renewing hands over after
    ``_LEASE_PASSES`` intervals.
    """
    fleet = reg.fleet
    if fleet is None:
        await check_once(reg)
        return True
    lease_ms = int(interval * 1000 * _LEASE_PASSES)
    leader = await fleet.store.lead("drift", fleet.replica, lease_ms)
    DRIFT_LEADER.set(1 if leader else 0)
    if leader:
        report = await check_once(reg)
        await fleet.store.save_drift(msgspec.json.encode(report), lease_ms)
        return True
    shared = await fleet.store.load_drift()
    if shared is not None:
        publish_gauges(_report_codec.decode(shared))
    return False


async def run(reg: Registry, interval: float, stop: asyncio.Event) -> None:
    """Check drift every ``interval`` seconds until ``stop`` is set (stopped by event)."""
    await every(interval, stop, lambda: pass_once(reg, interval), log, "drift check")


async def drift_report(reg: Registry, namespace: str | None = None) -> DriftReport:
    """Per profile: the active version, agents on it, on other versions, and with none.

    ``convergence_ratio`` counts agents that report a version; agents that report none
    (stock MCP Mesh agents) are listed under ``unknown`` and do not lower it. A fleet-wide
    report also refreshes this replica's convergence gauges.
    """
    report, _ = await compute(reg, namespace)
    if namespace is None:
        for p in report.profiles:
            CONVERGENCE.labels(profile=p.profile).set(p.convergence_ratio)
    return report
