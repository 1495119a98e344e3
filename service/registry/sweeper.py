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

from service.metrics import EXPIRIES, SWEEP_LEADER, set_agent_counts
from service.registry.periodic import every
from service.store.store import Store, SweepStats

log = logging.getLogger("service.sweeper")

#: A leader that misses this many passes hands the sweep over to another replica.
LEASE_PASSES = 3

#: Take or renew the sweep lease; True while this replica holds it.
Lead = Callable[[], Awaitable[bool]]


async def sweep_once(store: Store) -> SweepStats:
    """One pass: process due agents, then publish counts read from Redis."""
    stats = await store.sweep()
    for ns, n in stats.expired_by_namespace:
        EXPIRIES.labels(namespace=ns).inc(n)
    set_agent_counts(await store.counts())
    return stats


async def tick(store: Store, lead: Lead | None) -> bool:
    """One interval's work: sweep if this replica leads (or no lease is used); True if it did."""
    leader = True if lead is None else await lead()
    SWEEP_LEADER.set(1 if leader else 0)
    if leader:
        await sweep_once(store)
    else:
        set_agent_counts(await store.counts())  # every replica reports the same figures
    return leader


async def run(store: Store, interval: float, stop: asyncio.Event, lead: Lead | None = None) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set; a Redis outage skips passes.

    With ``lead``, only the lease holder sweeps. Stopping by event rather than by
    cancellation lets a pass in flight finish its Redis call, so shutdown never leaves a
    half-read connection behind.
    """
    await every(interval, stop, lambda: tick(store, lead), log, "sweep pass")
