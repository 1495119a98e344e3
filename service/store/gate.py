"""Admission to the store: a bounded number of Redis round trips in flight, a bounded queue
behind them, and one deadline per store operation.

The queueing model, per replica process (each worker has its own):

- at most ``size`` round trips are in flight (``REGISTRY_REDIS_POOL_SIZE``); a pipeline of
  coalesced heartbeats is one round trip, so this bounds connections, not callers;
- at most ``queue`` more wait for a slot (``REGISTRY_REDIS_QUEUE``); a caller that finds the
  queue full is refused at once with :class:`StoreSaturated` (503 + ``Retry-After``):
  shedding load quickly beats queueing requests that would be answered too late to matter;
- every store operation, the wait for a slot and a pooled connection included, ends within
  ``REGISTRY_REDIS_TIMEOUT`` of its start (:meth:`Gate.bounded`), else 503.

The same gate serves every topology: redis-py's Sentinel and Cluster pools do not block (they
open connections up to their maximum, then fail with "Too many connections"), so the slot
limit is what keeps them bounded.

After a store call fails, the gate lets one call through at a time (a probe) until one
succeeds, the others waiting in the same bounded queue. Hundreds of heartbeats retrying at
once against a store that just failed over only make it worse: redis-py's Cluster client
reloads its slot map on each failure and closes connections other calls are using, and
under full load the failures kept each other going for seconds. One probe breaks that.
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType

from service.errors import StoreSaturated
from service.metrics import STORE_SHED

#: The loop time by which the store operation in progress must end (None: no operation).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "store_deadline", default=None
)


class _Scope(AbstractContextManager[None]):
    """One operation's deadline, set on entry and cleared on exit.

    A plain class rather than ``@contextmanager``: every heartbeat enters one, and the
    generator machinery cost more than the deadline itself.
    """

    __slots__ = ("_at", "_token")

    def __init__(self, at: float) -> None:
        self._at = at

    def __enter__(self) -> None:
        self._token = _DEADLINE.set(self._at)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _DEADLINE.reset(self._token)


#: Inside an operation: the outer deadline stands.
_NESTED: AbstractContextManager[None] = nullcontext()


class Gate:
    """Slots for Redis round trips, a bounded queue for them, and the operation deadline."""

    def __init__(self, size: int, queue: int, timeout: float) -> None:
        self.size, self.queue, self.timeout = size, queue, timeout
        self._sem = asyncio.Semaphore(size)
        #: Callers waiting for a slot (asyncio.Semaphore keeps its own count private).
        self.waiting = 0
        #: After a failure: one probe at a time until a call succeeds.
        self.tripped = False
        self._probing = False
        self._changed = asyncio.Event()

    def deadline(self) -> float:
        """The deadline of the operation in progress, or one ``timeout`` from now."""
        set_at = _DEADLINE.get()
        return set_at if set_at is not None else asyncio.get_running_loop().time() + self.timeout

    def bounded(self) -> AbstractContextManager[None]:
        """Make every store call inside share one deadline, ``timeout`` from now.

        A heartbeat can take several round trips (a locator read, a claim check, the
        script); the bound is on the whole answer, not on each of them. Nested scopes keep
        the outer, earlier deadline.
        """
        if _DEADLINE.get() is not None:
            return _NESTED
        return _Scope(asyncio.get_running_loop().time() + self.timeout)

    async def acquire(self) -> bool:
        """Take a slot; wait in the queue if none is free, or refuse at once if it is full.

        Returns True when the caller is the probe after a failure (pass it to
        :meth:`release`). The caller bounds the wait with its deadline (``asyncio.timeout_at``).
        """
        while self.tripped:
            if not self._probing:
                self._probing = True
                return True
            self._queue_or_shed()
            self.waiting += 1
            try:
                await self._changed.wait()
            finally:
                self.waiting -= 1
        if not self._sem.locked():
            await self._sem.acquire()  # free: returns without suspending
            return False
        self._queue_or_shed()
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        return False

    def _queue_or_shed(self) -> None:
        if self.waiting >= self.queue:
            STORE_SHED.inc()
            state = "recovering: one call at a time" if self.tripped else f"{self.size} in flight"
            raise StoreSaturated(
                f"the registry store is saturated ({state}, {self.waiting} queued): retry shortly"
            )

    def release(self, probe: bool = False) -> None:
        """Give the slot back (``probe``: what :meth:`acquire` returned)."""
        if probe:
            self._probing = False
            self._notify()
        else:
            self._sem.release()

    def failed(self) -> None:
        """A store call failed: admit one call at a time until one succeeds."""
        self.tripped = True

    def succeeded(self) -> None:
        """A store call succeeded: admit calls by slot again."""
        if self.tripped:
            self.tripped = False
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
