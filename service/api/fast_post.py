"""``POST /heartbeat`` as a raw ASGI fast path in front of the Litestar router.

Registrations and full heartbeats are the registry's second-largest traffic, and they
surge exactly when a registry is under stress: every agent POSTs again after Redis lost its
data, and each config change makes a share of the fleet POST. Profiling put Litestar's
per-request machinery (routing, the signature model, the DTO, dependency injection, the
response object) at about two fifths of a POST. This path runs the same steps as the
routed handler (:func:`service.api.heartbeat.post_heartbeat`, still registered: it
documents the route and answers whatever this path passes on): the agent guard, the body
within ``REGISTRY_MAX_BODY_BYTES`` and ``REGISTRY_BODY_READ_TIMEOUT``, the one strict
decoder (:func:`service.registry.decoding.decode_json`), the use-case
(:func:`service.registry.heartbeat.register`: one EVALSHA in steady state) and the same
metrics, then writes the same JSON.

Only the plain form is taken: ``POST /heartbeat`` with no query string. A caller the guard
refuses, a body that is too large or does not decode goes to Litestar, with the body read
so far replayed, so every 4xx keeps the exact problem and counting the route gives it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from litestar.types import ASGIApp

from service.errors import RegistryError
from service.models import HeartbeatRequest
from service.registry import heartbeat
from service.registry.decoding import decode_json
from service.settings import Settings

from .body_timeout import slow_body
from .problems import INTERNAL_DETAIL
from .raw import caller, headers_of, problem_response, respond

log = logging.getLogger("service.api")

PATH = "/heartbeat"
_decoder = msgspec.json.Decoder(HeartbeatRequest)
_encoder = msgspec.json.Encoder()
_JSON = b"application/json"


def fast_post(inner: ASGIApp, settings: Settings) -> ASGIApp:
    """Wrap Litestar's ASGI handler (``app.asgi_handler``) with the POST fast path."""
    limit, seconds = settings.max_body_bytes, settings.body_read_timeout

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or scope["query_string"]
        ):
            await inner(scope, receive, send)
            return
        reg = scope["app"].state.registry
        raw = headers_of(scope)
        try:
            # The route group's guard (wiring.agent_guard), before any body is read.
            identity = caller(scope, reg, raw)
            reg.access.require(identity, "agent")
        except RegistryError:
            await inner(scope, receive, send)  # the route answers the 401/403 problem
            return
        declared = raw.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > limit):
            await inner(scope, receive, send)  # Litestar's 413 (or its 400)
            return
        try:
            body, complete = await _read(receive, limit, seconds)
        except RegistryError as exc:  # the body did not arrive in time: the route's 408
            await respond(send, *problem_response(exc, PATH))
            return
        except _Disconnected:
            return
        if not complete:
            await inner(scope, _replay(body, True, receive), send)  # over the limit: 413
            return
        try:
            request = decode_json(body, _decoder)
        except RegistryError:
            await inner(scope, _replay(body, False, receive), send)  # the route's problem
            return
        heartbeat.note_unknown_fields(body)
        started = time.perf_counter()
        try:
            answer = await heartbeat.register(reg, request, identity)
        except RegistryError as exc:  # as post_heartbeat counts it and registry_error answers
            heartbeat.count("post", heartbeat.result_label(exc))
            await respond(send, *problem_response(exc, PATH))
            return
        except Exception as exc:  # a bug: as problems.internal_error answers it
            log.error("unhandled error on POST %s", PATH, exc_info=exc)
            await respond(send, *problem_response(_Internal(INTERNAL_DETAIL), PATH))
            return
        heartbeat.count("post", "ok", started)
        out = _encoder.encode(answer)
        headers = [(b"content-type", _JSON), (b"content-length", str(len(out)).encode())]
        await respond(send, 200, headers, out)

    return handler


class _Internal(RegistryError):
    status_code = 500
    title = "Internal Server Error"


class _Disconnected(Exception):
    """The client went away before its body was complete."""


async def _read(receive: Any, limit: int, seconds: float) -> tuple[bytes, bool]:
    """The body, and whether it is complete (False: it passed ``limit`` bytes)."""
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + seconds
    while True:
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                message = await receive()
        except TimeoutError:
            raise slow_body(seconds) from None
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body"):
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Any) -> Any:
    """A ``receive`` that hands over ``body`` first, then the rest of the stream."""
    pending = True

    async def replayed() -> Any:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed
