"""A replica's life: build the registry context, start and stop its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.bundle import Bundle
from service.domain.profiles import Profiles
from service.errors import StoreUnavailable
from service.registry import drift, rollout, sweeper
from service.registry.access import Access
from service.registry.changes import Changes
from service.registry.context import Registry
from service.registry.corrupt import CorruptReporter
from service.registry.fleet import FleetConfig, replica_id
from service.settings import Settings
from service.store.config_store import ConfigStore
from service.store.store import Store

log = logging.getLogger("service")


@asynccontextmanager
async def running(
    settings: Settings, baked: Bundle | None, store: Store | None = None
) -> AsyncIterator[Registry]:
    """The registry of one replica, with its sweeper, config and drift loops running.

    ``store`` defaults to one built from ``settings`` (and closed on exit); a store passed
    in stays open.
    """
    st = store or Store.from_settings(settings)
    st.on_corrupt = CorruptReporter(st)  # counts and records the values reads skip
    background: set[asyncio.Task[None]] = set()

    def denied(owner: str, agent_id: str, reason: str) -> None:
        # Recorded off the request path; a store outage only loses the event.
        task = asyncio.get_running_loop().create_task(_note_denied(st, owner, agent_id, reason))
        background.add(task)
        task.add_done_callback(background.discard)

    reg = Registry(
        settings=settings,
        store=st,
        profiles=Profiles.build(settings.thresholds, None),
        access=Access(settings, denied),
    )
    _warn_about_auth(settings)
    # A blocked XREAD must return before the socket timeout, as the fleet watcher's does.
    reg.changes = Changes(st, block_s=min(1.0, settings.redis_timeout / 2))
    stop = asyncio.Event()
    leases, me = ConfigStore(st), replica_id()
    lease_ms = int(settings.sweep_interval * 1000 * sweeper.LEASE_PASSES)

    async def lead() -> bool:
        return await leases.lead("sweep", me, lease_ms)

    tasks = [
        asyncio.create_task(
            sweeper.run(st, settings.sweep_interval, stop, lead, settings.protection)
        )
    ]
    if baked is not None:
        reg.fleet = await _start_fleet(reg, baked)
        tasks.append(asyncio.create_task(reg.fleet.run(settings.config_refresh, stop)))
        if not settings.embedded:  # one embedded replica is the only one activating
            block = settings.redis_timeout / 2
            tasks.append(asyncio.create_task(reg.fleet.watch(block, stop)))
        tasks.append(asyncio.create_task(drift.run(reg, settings.drift_interval, stop)))
        tasks.append(
            asyncio.create_task(rollout.run(reg, reg.fleet, settings.config_refresh, stop))
        )
    log.info("replica ready (revision %s)", settings.deploy_revision)
    try:
        yield reg
    finally:
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=max(5.0, settings.redis_timeout * 3))
            except TimeoutError:
                log.warning("background task did not stop in time; abandoning it")
        await reg.changes.close()
        if store is None:
            await st.close()


async def _start_fleet(reg: Registry, baked: Bundle) -> FleetConfig:
    """Publish the baked bundle, claim active, and serve whatever the fleet has active."""
    settings = reg.settings

    def switch(active: Bundle) -> None:
        # The epoch is the active version: touch.lua answers 202 to agents told another one.
        profiles = Profiles.build(settings.thresholds, active)
        reg.profiles = dataclasses.replace(profiles, epoch=active.version)

    fleet = FleetConfig(
        ConfigStore(reg.store),
        baked,
        revision=settings.deploy_revision,
        claim_ttl=settings.config_claim_ttl,
        on_change=switch,
    )
    switch(baked)
    await fleet.start()
    return fleet


async def _note_denied(store: Store, owner: str, agent_id: str, reason: str) -> None:
    with contextlib.suppress(StoreUnavailable):
        await ConfigStore(store).note_event(
            "default", "auth-denied", agent_id or "-", f"{reason}: identity {owner}"
        )


def _warn_about_auth(settings: Settings) -> None:
    """One clear line at every start when nothing is authenticated."""
    if settings.auth.mode != "off":
        log.info("auth: %s", settings.auth.mode)
    elif settings.embedded:
        log.warning(
            "REGISTRY_AUTH=off: any local process may register agents (embedded store, "
            "bound to %s only)",
            settings.host,
        )
    else:
        log.warning(
            "REGISTRY_AUTH=off with a real Redis: anyone who reaches this replica can register,"
            " replace or delete any agent and rewire its consumers"
        )
