"""One Redis deployment as every store class uses it: the client, its registered scripts,
and the one error guard that turns driver failures into :class:`StoreUnavailable`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from service.errors import StoreUnavailable
from service.store.client import AnyRedis
from service.store.coalesce import Coalescer
from service.store.scripts import Scripts

log = logging.getLogger("service.store")
T = TypeVar("T")


class Conn:
    """The client, the scripts registered on it, and :meth:`call`, the only error guard."""

    def __init__(self, client: AnyRedis) -> None:
        self.client = client
        self.scripts = Scripts.register(client)
        # Heartbeats made in the same loop turn share one pipeline write (still 1 EVALSHA each).
        self._batch = Coalescer(client)

    async def call(self, pending: Awaitable[T]) -> T:
        """Await one Redis call; a Redis or socket error becomes :class:`StoreUnavailable`,
        so the API answers 503 (never a misleading 404 or 410) while Redis is away."""
        try:
            return await pending
        except RedisError as exc:
            log.warning("redis error: %s", exc)
            raise StoreUnavailable(f"the registry store is unavailable: {exc}") from exc
        except OSError as exc:  # a socket error that escaped the driver
            raise StoreUnavailable(f"the registry store is unavailable: {exc}") from exc

    async def run(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], *, batch: bool = False
    ) -> Any:
        """One EVALSHA of ``script``; ``batch`` lets it share a pipeline write with the
        calls made in the same loop turn (the heartbeat paths)."""
        if batch:
            return await self.call(self._batch.call(script, keys, args))
        return await self.call(script(keys=keys, args=args))
