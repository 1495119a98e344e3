"""The background sweep loop each replica runs; every pass is atomic per namespace in Lua,
so replicas sweeping at once do not double-count."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from service.errors import StoreUnavailable
from service.metrics import EXPIRIES, STORE_ERRORS, set_agent_counts
from service.store.store import Store, SweepStats

log = logging.getLogger("service.sweeper")


async def sweep_once(store: Store) -> SweepStats:
    """One pass: process due agents, then publish counts read from Redis."""
    stats = await store.sweep()
    for ns, n in stats.expired_by_namespace:
        EXPIRIES.labels(namespace=ns).inc(n)
    set_agent_counts(await store.counts())
    return stats


async def run(store: Store, interval: float, stop: asyncio.Event) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set; a Redis outage skips passes.

    Stopping by event rather than by cancellation lets a pass in flight finish its Redis
    call, so shutdown never leaves a half-read connection behind.
    """
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await sweep_once(store)
        except StoreUnavailable:
            STORE_ERRORS.inc()
        except Exception:  # the loop must outlive any single bad pass
            log.exception("sweep pass failed")
