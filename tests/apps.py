"""Shared app-test constants: short thresholds and the client-factory type."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from litestar.testing import AsyncTestClient

from service.settings import Thresholds

# Short timers so transitions happen in well under a second; tests poll, never sleep blindly.
FAST = Thresholds(heartbeat_interval=0.1, degraded_after=0.4, expire_after=0.8, retention=1.5)


class ClientFactory(Protocol):
    """``async with app_client(**settings) as client`` runs one replica's lifespan."""

    def __call__(self, **overrides: Any) -> AbstractAsyncContextManager[AsyncTestClient[Any]]: ...
