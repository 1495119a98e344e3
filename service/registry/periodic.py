"""The background loops' shared shape: a pass every interval until a stop event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from service.errors import StoreUnavailable
from service.metrics import STORE_ERRORS


async def every(
    interval: float,
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[object]],
    log: logging.Logger,
    what: str,
) -> None:
    """Run ``one_pass`` every ``interval`` seconds until ``stop`` is set.

    Stopped by event, not cancellation: a pass in flight finishes its Redis call (redis-py
    swallows cancellation mid-call), so shutdown never leaves a half-read connection. A Redis
    outage skips passes; any other error is logged and the loop goes on.
    """
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await one_pass()
        except StoreUnavailable:
            STORE_ERRORS.inc()
        except Exception:  # the loop must outlive any single bad pass
            log.exception("%s failed", what)
