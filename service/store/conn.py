"""One Redis deployment as every store class uses it: the client, its registered scripts,
the admission gate, and the one error guard that turns driver failures and missed deadlines
into :class:`StoreUnavailable`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from service.errors import StoreSaturated, StoreUnavailable
from service.store.client import AnyRedis
from service.store.coalesce import Coalescer
from service.store.gate import Gate
from service.store.scripts import Scripts

log = logging.getLogger("service.store")
T = TypeVar("T")


class Conn:
    """The client, the scripts registered on it, and :meth:`call`, the only error guard."""

    def __init__(self, client: AnyRedis, gate: Gate | None = None) -> None:
        self.client = client
        self.scripts = Scripts.register(client)
        #: Admission and deadlines (see gate.py); tests that build a bare Store get defaults.
        self.gate = gate or Gate(size=64, queue=64, timeout=1.0)
        # Heartbeats made in the same loop turn share one pipeline write (still 1 EVALSHA each).
        self._batch = Coalescer(client, self.gate)

    async def call(self, pending: Awaitable[T], *, gated: bool = True) -> T:
        """Await one Redis call within the operation's deadline, holding a gate slot.

        A Redis or socket error, or no answer by the deadline, becomes
        :class:`StoreUnavailable`, so the API answers 503 (never a misleading 404 or 410)
        while Redis is away; a full queue is :class:`StoreSaturated` (also 503), at once.
        ``gated=False`` is for callers that take their slot and keep the deadline themselves
        (the coalescer).
        """
        gate = self.gate
        try:
            if not gated:
                result = await pending
            else:
                async with asyncio.timeout_at(gate.deadline()):
                    probe = await gate.acquire()
                    try:
                        result = await pending
                    finally:
                        gate.release(probe)
        except StoreSaturated:
            _close(pending)
            raise
        except Exception as exc:  # CancelledError (a client went away) passes untouched
            _close(pending)
            gate.failed()
            raise self._unavailable(exc) from exc
        gate.succeeded()
        return result

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """The 503 a failed store call becomes."""
        if isinstance(exc, StoreUnavailable):
            return exc
        if isinstance(exc, RedisError):
            log.warning("redis error: %s", exc)
            return StoreUnavailable(f"the registry store is unavailable: {exc}")
        if isinstance(exc, TimeoutError):  # the deadline (builtin TimeoutError is an OSError)
            return StoreUnavailable(
                f"the registry store did not answer within {self.gate.timeout:g} s"
            )
        if isinstance(exc, OSError):  # a socket error that escaped the driver
            return StoreUnavailable(f"the registry store is unavailable: {exc}")
        # redis-py's Cluster client fails outside its RedisError tree while it reloads the
        # slot map (RedisClusterException, and AttributeError/RuntimeError on a connection
        # another task closed under it): still a store failure, so 503 and never a 500.
        # Logged with its traceback, so a bug here stays visible.
        log.warning("store call failed: %r", exc, exc_info=exc)
        return StoreUnavailable(f"the registry store is unavailable: {exc!r}")

    async def run(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], *, batch: bool = False
    ) -> Any:
        """One EVALSHA of ``script``; ``batch`` lets it share a pipeline write with the
        calls made in the same loop turn (the heartbeat paths)."""
        if batch:
            return await self.call(self._batch.call(script, keys, args), gated=False)
        return await self.call(script(keys=keys, args=args))


def _close(pending: Awaitable[Any]) -> None:
    """Close a call refused before it was awaited (no "never awaited" warning, no work)."""
    close = getattr(pending, "close", None)
    if close is not None:
        close()
