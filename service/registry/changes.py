"""Change notifications for long-polls: one listener per replica, fanned out in process.

A long-poll waits until the change index of what it asked for moves. Every change that
moves an index also appends to its namespace's event stream (register, update, recover,
degraded, expire, unregister, purge), so one blocking XREAD over the streams of the
namespaces someone waits on wakes every waiter of this replica: Redis does no work per
waiter, and none at all beyond one blocked read while nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from service.errors import StoreUnavailable
from service.store.store import Store

log = logging.getLogger("service.changes")


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


class Changes:
    """Waiters by namespace, and the one listener task that wakes them."""

    def __init__(self, store: Store, block_s: float) -> None:
        self.store = store
        self.block_ms = max(int(block_s * 1000), 10)
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._seen: dict[str, str] = {}  # namespace -> newest event id the listener read
        self._task: asyncio.Task[None] | None = None

    async def wait(self, namespace: str, after: str, seconds: float) -> bool:
        """Until an event newer than ``after`` (an event id) reaches ``namespace``, or
        ``seconds``; True when woken by a change."""
        seen = self._seen.get(namespace)
        if seen is not None and _order(seen) > _order(after):
            return True  # the change happened between the caller's read and this wait
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(namespace, set()).add(fut)
        if namespace not in self._seen or _order(after) < _order(self._seen[namespace]):
            self._seen[namespace] = after
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(asyncio.shield(fut), seconds)
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(namespace)
            if waiting is not None:
                waiting.discard(fut)
                if not waiting:
                    del self._waiters[namespace]
        return True

    async def _listen(self) -> None:
        while self._waiters:
            after = {ns: self._seen[ns] for ns in self._waiters}
            try:
                newest = await self.store.events_after(after, self.block_ms)
            except StoreUnavailable:
                self._wake(list(self._waiters))  # they re-read and answer (or 503)
                await asyncio.sleep(0.5)
                continue
            for ns, last in newest.items():
                self._seen[ns] = last
            self._wake(list(newest))

    def _wake(self, namespaces: list[str]) -> None:
        for ns in namespaces:
            for fut in self._waiters.get(ns, ()):
                if not fut.done():
                    fut.set_result(None)

    async def close(self) -> None:
        """Stop the listener (at shutdown)."""
        if self._task is not None:
            self._wake(list(self._waiters))
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
