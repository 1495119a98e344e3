"""A deadline on reading each request body, so a slow-body client cannot hold a worker."""

from __future__ import annotations

import asyncio
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from service.errors import SlowBody


def slow_body(seconds: float) -> SlowBody:
    """The error of a body that did not arrive within ``seconds`` (a 408 problem)."""
    return SlowBody(
        f"body: not received within {seconds:g} s (REGISTRY_BODY_READ_TIMEOUT)", field="body"
    )


def body_timeout(seconds: float) -> type:
    """ASGI middleware: the whole body must arrive within ``seconds`` of its first read.

    Only the body is bounded: once it is complete (``more_body`` false), later ``receive``
    calls (a streaming response waiting for the client to disconnect) pass through.
    """

    class _BodyTimeout:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await self.app(scope, receive, send)
                return
            deadline: float | None = None
            complete = False

            async def bounded() -> ReceiveMessage:
                nonlocal deadline, complete
                if complete:
                    return await receive()
                now = time.monotonic()
                if deadline is None:
                    deadline = now + seconds
                try:
                    async with asyncio.timeout(max(deadline - now, 0.0)):
                        message = await receive()
                except TimeoutError:
                    raise slow_body(seconds) from None
                if message["type"] != "http.request" or not message.get("more_body"):
                    complete = True
                return message

            await self.app(scope, bounded, send)

    return _BodyTimeout
