"""``OPTIONS`` answers list every method of the path (``Allow``), as the OpenAPI document does.

Litestar builds a path's route again each time a handler for the same path is added and keeps
the first ``OPTIONS`` handler, whose ``Allow`` then names only the first handler's methods
(``/agents/{agent_id}`` said ``DELETE, OPTIONS``, without ``GET``). This middleware rewrites
``Allow`` from the final routes, once per path template.
"""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send


class AllowHeader:
    """ASGI middleware: correct ``Allow`` on ``OPTIONS`` answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._methods: dict[str, bytes] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        allow = self._allow(scope)

        async def patched(message: Message) -> None:
            if message["type"] == "http.response.start" and allow is not None:
                headers: list[Any] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                ]
                headers.append((b"allow", allow))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, patched)

    def _allow(self, scope: Scope) -> bytes | None:
        if self._methods is None:
            self._methods = {
                route.path_format: ", ".join(sorted(route.methods)).encode()
                for route in scope["litestar_app"].routes
                if isinstance(route, HTTPRoute)
            }
        return self._methods.get(str(scope.get("path_template", "")))
