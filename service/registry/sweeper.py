"""The background sweep loop: one replica of the fleet sweeps, under a leader lease.

Every pass is atomic per namespace in Lua, so two replicas sweeping at once would not
double-count; but N replicas each sweeping every namespace every interval made sweep work
grow with the fleet of replicas for nothing. The holder of the ``sweep`` lease (as drift
holds its own) sweeps; the others only renew their bid and publish the agent counts read
from Redis. A leader that stops renewing (it died, or lost Redis) hands over once its lease
lapses, :data:`LEASE_PASSES` intervals later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from service.errors import StoreUnavailable
from service.metrics import (
    EXPIRIES,
    PROTECTION_ACTIVE,
    PROTECTION_STARTED,
    SUSPECTS_HELD,
    SWEEP_LEADER,
    set_agent_counts,
)
from service.registry.periodic import every
from service.settings import Protection
from service.store.store import Store, SweepStats

log = logging.getLogger("service.sweeper")

#: A leader that misses this many passes hands the sweep over to another replica.
LEASE_PASSES = 3

#: Take or renew the sweep lease; True while this replica holds it.
Lead = Callable[[], Awaitable[bool]]


async def sweep_once(
    store: Store, protection: Protection | None = None, *, after_outage: bool = False
) -> SweepStats:
    """One pass: process due agents, then publish counts read from Redis."""
    stats = await store.sweep(protection=protection, after_outage=after_outage)
    for ns, n in stats.expired_by_namespace:
        EXPIRIES.labels(namespace=ns).inc(n)
    for ns in stats.protection_started:
        PROTECTION_STARTED.labels(namespace=ns).inc()
        log.warning("mass-expiry protection started in namespace %r: expiries held", ns)
    await publish_counts(store)
    return stats


async def publish_counts(store: Store) -> None:
    """Agent counts and protection state, read from Redis (equal on every replica)."""
    counts = await store.counts()
    set_agent_counts(counts)
    for ns in counts:
        state = await store.protection(ns)
        PROTECTION_ACTIVE.labels(namespace=ns).set(1 if state and state.active else 0)
        if state and state.active:
            SUSPECTS_HELD.labels(namespace=ns)  # the series exists while it matters


class Sweeper:
    """The sweep loop's memory between passes: whether the last one lost the store.

    The first pass after the store was unreachable (or paused: the pass timed out) starts
    mass-expiry protection where agents are expiring: their heartbeats failed for the same
    reason this pass did.
    """

    def __init__(self, store: Store, protection: Protection | None, lead: Lead | None) -> None:
        self.store, self.protection, self.lead = store, protection, lead
        self.lost_store = False

    async def tick(self) -> bool:
        """One interval's work: sweep if this replica leads (or no lease is used)."""
        try:
            leader = True if self.lead is None else await self.lead()
            SWEEP_LEADER.set(1 if leader else 0)
            if leader:
                stats = await sweep_once(self.store, self.protection, after_outage=self.lost_store)
                for ns, n in stats.held_by_namespace:
                    SUSPECTS_HELD.labels(namespace=ns).inc(n)
            else:
                await publish_counts(self.store)  # every replica reports the same figures
        except StoreUnavailable:
            self.lost_store = True
            raise
        self.lost_store = False
        return leader


async def tick(store: Store, lead: Lead | None, protection: Protection | None = None) -> bool:
    """One interval's work without memory between passes (tests drive passes by hand)."""
    return await Sweeper(store, protection, lead).tick()


async def run(
    store: Store,
    interval: float,
    stop: asyncio.Event,
    lead: Lead | None = None,
    protection: Protection | None = None,
) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set; a Redis outage skips passes.

    With ``lead``, only the lease holder sweeps. Stopping by event rather than by
    cancellation lets a pass in flight finish its Redis call, so shutdown never leaves a
    half-read connection behind.
    """
    sweeper = Sweeper(store, protection, lead)
    await every(interval, stop, sweeper.tick, log, "sweep pass")
