"""What the raw ASGI fast paths (:mod:`.fast_head`, :mod:`.fast_post`, :mod:`.fast_304`)
share: the caller's identity as the route guards work it out, problem answers as the
exception handler writes them, and sending one whole response."""

from __future__ import annotations

from typing import Any

import msgspec

from service.domain.identity import Identity
from service.errors import RegistryError, StoreUnavailable
from service.metrics import STORE_ERRORS
from service.registry.context import Registry

from .wiring import PROBLEM

Headers = list[tuple[bytes, bytes]]


def headers_of(scope: Any) -> dict[str, str]:
    """The request headers by lower-case name (the last of a repeated one)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def caller(scope: Any, reg: Registry, headers: dict[str, str] | None = None) -> Identity:
    """The caller's identity, as :func:`service.api.wiring.identity_of` works it out; kept in
    the scope, so a guard that runs after a fast path passes on reuses it."""
    raw = headers_of(scope) if headers is None else headers
    identity: Identity = reg.access.identify(raw.get("authorization"), raw, scope)
    scope["auth"] = identity
    return identity


async def respond(send: Any, status: int, headers: Headers, body: bytes) -> None:
    """Send one whole response."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def problem_response(exc: RegistryError, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers and body :func:`service.api.problems.registry_error` gives."""
    if isinstance(exc, StoreUnavailable):
        STORE_ERRORS.inc()
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": exc.title,
        "status": exc.status_code,
        "detail": exc.detail,
        "instance": path,
    }
    if exc.field:
        problem["field"] = exc.field
    body = msgspec.json.encode(problem)
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())]
    if isinstance(exc, StoreUnavailable):
        headers.append((b"retry-after", b"1"))
    return exc.status_code, headers, body
