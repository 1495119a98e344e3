"""The /mcp mount: lifecycle, registry access and the time bound; free of MCP SDK imports.

Importing the SDK takes about two seconds (it builds hundreds of pydantic models), longer than
the rest of a replica's start-up. It is therefore loaded in a worker thread after start-up:
heartbeats are served at once, and an MCP request that arrives first waits for it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from litestar import Litestar, asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send

from service.errors import StoreUnavailable
from service.registry.context import Registry
from service.settings import Settings

if TYPE_CHECKING:
    from .server import RegistryMcpServer

log = logging.getLogger("service.mcp")

PATH = "/mcp"
LOAD_WAIT_S = 30.0  # how long a request waits for the SDK to finish loading
STOP_WAIT_S = 10.0


def tool_timeout(settings: Settings) -> float:
    """Upper bound of one tool call: a few Redis round trips at REGISTRY_REDIS_TIMEOUT each."""
    return max(2.0, 4 * settings.redis_timeout)


class McpEndpoint:
    """The registry's MCP server for one Litestar app: mount it with :meth:`route`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = tool_timeout(settings)
        self._app: Litestar | None = None
        self._server: RegistryMcpServer | None = None
        self._loaded = asyncio.Event()
        # Set by the first /mcp request: the SDK loads on demand, not at start-up, where its
        # import (a second or more of CPU, GIL-bound even in a thread) delayed a cold
        # replica's readiness and its first heartbeats.
        self._wanted = asyncio.Event()
        # Calls abandoned at the time bound: redis-py may swallow a cancel, so they are left
        # to end at their own socket timeout and are only kept referenced until they do.
        self._abandoned: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Load and run the MCP server beside the app (listed after the registry's lifespan)."""
        self._app = app
        stop = asyncio.Event()
        task = asyncio.create_task(self._run(stop), name="mcp-server")
        try:
            yield
        finally:
            stop.set()
            done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
            if not done:
                log.warning("the MCP server did not stop in time; abandoning it")

    async def _run(self, stop: asyncio.Event) -> None:
        wanted = asyncio.ensure_future(self._wanted.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({wanted, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (wanted, stopping):
            waiter.cancel()
        if stop.is_set():
            self._loaded.set()
            return
        try:
            module = await asyncio.to_thread(importlib.import_module, "service.mcp.server")
            server: RegistryMcpServer = module.RegistryMcpServer(self)
            # The SDK's task group must be entered and left by one task: this one.
            async with server.sessions.run():
                self._server = server
                self._loaded.set()
                await stop.wait()
        except Exception:
            log.exception("the MCP endpoint failed; /mcp answers 503")
        finally:
            self._server = None
            self._loaded.set()

    def route(self) -> ASGIRouteHandler:
        """The Litestar handler that mounts the MCP endpoint at :data:`PATH`."""

        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            self._wanted.set()
            with suppress(TimeoutError):  # still loading after that long: answer 503 below
                await asyncio.wait_for(self._loaded.wait(), LOAD_WAIT_S)
            if self._server is None:
                await _unavailable(send)
                return
            await self._server.sessions.handle_request(scope, receive, send)  # type: ignore[arg-type]

        handler: ASGIRouteHandler = asgi(PATH, is_mount=True, copy_scope=True)(mcp_endpoint)
        return handler

    @property
    def registry(self) -> Registry:
        """The app's registry context (set up by the app's own lifespan)."""
        if self._app is None:
            raise RuntimeError("the MCP endpoint is used outside its app's lifespan")
        reg: Registry = self._app.state.registry
        return reg

    async def bounded(self, call: Awaitable[Any]) -> Any:
        """Await ``call`` for at most :attr:`timeout` seconds, without cancelling it."""
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
        finally:
            if not task.done():
                self._abandoned.add(task)
                task.add_done_callback(self._reap)
        if not done:
            raise StoreUnavailable(
                f"the registry did not answer within {self.timeout:g}s (its store is unavailable)"
            )
        return task.result()

    @property
    def abandoned(self) -> int:
        """Tool calls given up at the time bound that are still running."""
        return len(self._abandoned)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("abandoned MCP tool call ended with: %s", task.exception())


async def _unavailable(send: Send) -> None:
    body = b'{"title":"MCP unavailable","status":503,"detail":"the MCP endpoint is not running"}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
