"""``HEAD /heartbeat/{agent_id}`` as a raw ASGI fast path in front of the Litestar router.

The cheap heartbeat is most of a registry's traffic, and profiling showed Litestar's
per-request machinery (routing, signature model, dependency resolution, the response
object and its header mutation, the exception middleware) costing about as much as the
use-case and its Redis round trip together. This path answers exactly what the routed
handler (:func:`service.api.heartbeat.head_heartbeat`, still registered: it documents the
route in OpenAPI and answers whatever this path passes on) answers: the same statuses
(200/202/410, 400 for a bad id, 503 with ``Retry-After``), the same empty ``text/plain``
body and the same metrics, after the same guard (the ``agent`` scope for this id; 401/403
problems as the exception handler writes them), through the same use-case
(:func:`service.registry.heartbeat.touch`: one EVALSHA).

Anything that is not a plain ``HEAD /heartbeat/<one segment>`` (a trailing slash, a nested
path, another method) goes to Litestar unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar.types import ASGIApp

from service.errors import RegistryError, StoreUnavailable
from service.registry import heartbeat

from .raw import caller, problem_response, respond

log = logging.getLogger("service.api")

PREFIX = "/heartbeat/"
_CUT = len(PREFIX)
_STATUS = {
    heartbeat.Touch.OK: 200,
    heartbeat.Touch.CHANGED: 202,
    heartbeat.Touch.GONE: 410,
    heartbeat.Touch.FORBIDDEN: 403,  # another identity owns the id (nothing refreshed)
}
# What the routed handler's Response(None, media_type=TEXT) puts on the wire.
_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]
_RETRY = [*_HEADERS, (b"retry-after", b"1")]


def fast_head(inner: ASGIApp) -> ASGIApp:
    """Wrap Litestar's ASGI handler (``app.asgi_handler``) with the HEAD fast path.

    Litestar sets ``scope["app"]`` before calling the handler, so the registry context is
    read from the app's state per request, exactly as the ``reg`` dependency reads it.
    """

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await inner(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(PREFIX) or "/" in path[_CUT:] or len(path) == _CUT:
            await inner(scope, receive, send)
            return
        await _answer(scope, send, path[_CUT:])

    return handler


async def _answer(scope: Any, send: Any, agent_id: str) -> None:
    headers = _HEADERS
    body = b""
    reg = scope["app"].state.registry
    try:
        # The route group's guard (wiring.agent_guard), in the order Litestar runs it: before
        # the handler, so a refused caller learns nothing about the id.
        identity = caller(scope, reg)
        reg.access.require_agent(identity, agent_id, None)
        if not heartbeat.AGENT_ID.match(agent_id):
            heartbeat.count("head", "invalid")
            status = 400
        else:
            try:
                status = _STATUS[await heartbeat.touch(reg, agent_id, identity)]
            except StoreUnavailable:
                status, headers = 503, _RETRY
    except RegistryError as exc:  # as the exception handler (problems.registry_error) answers
        status, headers, body = problem_response(exc, scope["path"])
    await respond(send, status, headers, body)
