"""The fleet-active config bundle, as one replica knows it.

At start-up a replica publishes its baked bundle into Redis (immutable, keyed by version)
and claims "active" for its deploy revision. Claims are *live*: a background loop refreshes
them with a TTL, and the active bundle is the highest revision among live claims. So during
a rolling update the newer pods win as soon as one claims (and the older pods serve the
newer bundle too), while after ``helm rollback`` the newer pods disappear, their claims
expire, and the older bundle becomes active again: one switch, no flapping.

The heartbeat path only reads the in-memory state kept here; it never costs a Redis call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import OrderedDict
from collections.abc import Callable

from service.bundle import Bundle, BundleError, bundle_from_files
from service.bundle_diff import diff_bundles
from service.errors import StoreUnavailable
from service.metrics import ACTIVE_CONFIG, STORE_ERRORS
from service.registry.cohorts import LiveRollout, Served, serve
from service.store.config_store import Active, ConfigStore, RolloutState

log = logging.getLogger("service.config")
_CACHE = 64  # published bundles kept in memory (they are small and immutable)


def replica_id() -> str:
    """A name for this replica process in claims and history: host, pid and a nonce."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class FleetConfig:
    """Publishes the baked bundle, keeps this replica's claim alive, tracks the active one."""

    def __init__(
        self,
        store: ConfigStore,
        baked: Bundle,
        *,
        revision: int,
        claim_ttl: float,
        on_change: Callable[[Bundle], None],
    ) -> None:
        self.store = store
        self.baked = baked
        self.revision = revision
        self.replica = replica_id()
        self.claim_ttl_ms = int(claim_ttl * 1000)
        self.on_change = on_change
        # Until Redis answers, serve the baked bundle (generation 0 loses to any activation).
        self.active: Bundle = baked
        self.generation = 0
        self.active_revision = revision
        self.source = "baked"
        # A sample from the start: dashboards and alerts must not see "no data" until the
        # first switch (the baked bundle is what this replica serves until Redis answers).
        ACTIVE_CONFIG.labels(version=baked.version).set(1)
        self._bundles: OrderedDict[str, Bundle] = OrderedDict({baked.version: baked})
        self._major: dict[tuple[str, str, str], bool] = {}
        self._published = False
        # The latest rollout as Redis holds it (any state), and the open one being served.
        self.rollout_state: RolloutState | None = None
        self.rollout: LiveRollout | None = None
        self.rollout_spec = ""  # what HEAD passes to touch.lua ("" outside a rollout)
        # The refresh loop and the activation watcher must not switch bundles concurrently.
        self._lock = asyncio.Lock()

    @property
    def member(self) -> str:
        """This replica's claim: ``revision|version|replica``."""
        return f"{self.revision}|{self.baked.version}|{self.replica}"

    def bundle(self, version: str) -> Bundle | None:
        """A published bundle this replica holds in memory (no Redis call)."""
        return self._bundles.get(version)

    def serve(self, profile: str, agent_id: str, reported: str | None) -> Served:
        """The bundle (and generation, and cohort) an agent is served; no Redis call."""
        return serve(self.rollout, self.active, self.generation, profile, agent_id, reported)

    def restart_required(
        self, profile: str, previous: str | None, target: Bundle | None = None
    ) -> bool:
        """True when a major key of ``profile`` differs between ``previous`` and ``target``
        (the active bundle by default).

        An unknown previous version (never published, or none reported) gives False: the
        registry cannot tell what the agent runs, and restarting a fleet on a guess is worse
        than delivering the payload, which the agent can still inspect.
        """
        after = target or self.active
        if not previous or previous == after.version:
            return False
        key = (profile, previous, after.version)
        if key not in self._major:
            before = self._bundles.get(previous)
            if before is None:
                return False
            diff = diff_bundles(before, after)
            for p in diff.profiles:
                self._major[(p.profile, previous, after.version)] = p.major
            self._major.setdefault(key, False)
        return self._major[key]

    async def start(self) -> None:
        """Publish, claim and load the active bundle; a Redis outage leaves the loop to retry."""
        try:
            await self.refresh()
        except StoreUnavailable as exc:
            log.warning("config: Redis unavailable at start-up (%s); serving the baked bundle", exc)

    async def refresh(self, mode: str = "claim") -> None:
        """One tick: keep the claim alive and switch to the fleet-active bundle if it moved.

        ``mode="read"`` only recomputes the active bundle (after a pin, or when the watcher
        saw another replica's activation).
        """
        async with self._lock:
            await self._refresh(mode)

    async def _refresh(self, mode: str) -> None:
        if not self._published:
            created = await self.store.publish(self.baked.version, self.baked.to_canonical_files())
            self._published = True
            if created:
                log.info("config: published bundle %s", self.baked.version)
        # What this replica saw active lets the fleet hold lower revisions back after a
        # data loss (generation 0: nothing seen from Redis yet, only the baked bundle).
        seen = self.active_revision if self.generation else -1
        baseline = self.rollout.baseline.version if self.rollout is not None else ""
        active = await self.store.claim(
            mode, self.member, self.claim_ttl_ms, self.baked.version, seen, baseline
        )
        if not active.own_published:
            self._published = False  # Redis lost its data: republish on the next tick
        if not active.version:
            return
        if active.version != self.active.version:
            if not await self._switch(active):
                return  # still serving the previous bundle: keep describing that one
        elif active.generation != self.generation:
            self.generation = active.generation
        self.active_revision, self.source = active.revision, active.source
        await self._track(active.rollout)

    async def _track(self, state: RolloutState | None) -> None:
        """Follow the rollout Redis holds: serve cohorts while one is open."""
        self.rollout_state = state
        if state is not None and self.rollout is not None and self.rollout.state == state:
            return
        live = None
        if state is not None and state.open:
            candidate = await self.load(state.candidate)
            policy = candidate.rollout_policy if candidate is not None else None
            if candidate is not None and policy is not None:
                live = LiveRollout(state, candidate, self.active, policy)
            else:
                log.error("config: rollout candidate %s is not loadable", state.candidate)
        if live is not None:
            s = live.state
            log.info("config: rollout %s of %s at step %s (%s)", s.id, s.candidate, s.step, s.state)
        self.rollout = live
        self.rollout_spec = live.spec if live is not None else ""

    async def _switch(self, active: Active) -> bool:
        bundle = await self.load(active.version)
        if bundle is None:
            return False  # not (yet) loadable: keep serving the current one, retry next tick
        old = self.active.version
        self.active, self.generation = bundle, active.generation
        ACTIVE_CONFIG.labels(version=old).set(0)
        ACTIVE_CONFIG.labels(version=bundle.version).set(1)
        log.info(
            "config: active bundle %s -> %s (generation %s)", old, bundle.version, active.generation
        )
        # Serve it first (agents are waiting), then load the versions agents may report,
        # so restart_required can diff against them.
        self.on_change(bundle)
        with contextlib.suppress(StoreUnavailable):
            await self.preload()
        return True

    async def load(self, version: str) -> Bundle | None:
        """The bundle of ``version`` from memory, else from Redis (hash-verified)."""
        cached = self._bundles.get(version)
        if cached is not None:
            return cached
        files = await self.store.bundle_files(version)
        if files is None:
            log.warning("config: bundle %s is active but not published", version)
            return None
        try:
            bundle = bundle_from_files(files)
        except BundleError as exc:
            log.error("config: published bundle %s fails verification: %s", version, exc)
            return None
        if bundle.version != version:
            log.error("config: key for %s holds bundle %s", version, bundle.version)
            return None
        self._bundles[version] = bundle
        while len(self._bundles) > _CACHE:
            self._bundles.popitem(last=False)
        return bundle

    async def preload(self) -> None:
        """Load the most recently published bundles into memory."""
        for version, _ in (await self.store.versions())[-_CACHE:]:
            await self.load(version)

    async def watch(self, block: float, stop: asyncio.Event) -> None:
        """Follow the activation history until ``stop``: re-read the active bundle at once
        when any replica records an activation (a rollout, a rollback, a pin).

        Without it a replica would learn of an activation at its next refresh tick, and
        agents it answers would hear up to one refresh later than the others. ``block`` (s)
        must stay below the Redis socket timeout.
        """
        last: dict[str, str] | None = None
        block_ms = max(1, int(block * 1000))
        while not stop.is_set():
            try:
                if last is None:
                    last = await self.store.last_activation_id()
                newest = await self.store.wait_activation(last, block_ms)
                if newest != last:
                    last = newest
                    await self.refresh("read")
            except StoreUnavailable:
                STORE_ERRORS.inc()
                last = None  # Redis may have lost the stream: start again from its end
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(block, 0.5))
            except Exception:  # the watcher must outlive any single bad read
                log.exception("config watch failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(block, 0.5))

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set, then withdraw the claim.

        Stopped by event, not cancellation: redis-py swallows cancellation mid-call.
        """
        with contextlib.suppress(StoreUnavailable):
            await self.preload()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                break
            try:
                await self.refresh()
            except StoreUnavailable:
                STORE_ERRORS.inc()
            except Exception:  # the loop must outlive any single bad tick
                log.exception("config refresh failed")
        # A graceful stop withdraws at once, so a rollback does not wait for the claim TTL.
        with contextlib.suppress(StoreUnavailable):
            await self.store.claim("withdraw", self.member, self.claim_ttl_ms, self.baked.version)
