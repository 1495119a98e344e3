"""Exception handlers: every error becomes an RFC 9457 problem naming the public input."""

from __future__ import annotations

import logging
import re
import typing
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from service.errors import RegistryError, StoreUnavailable
from service.metrics import STORE_ERRORS

from .wiring import PROBLEM

log = logging.getLogger("service.api")

#: What a caller is told of a bug (the traceback goes to the log, never to the caller).
INTERNAL_DETAIL = "an unexpected error; the replica logged it"

_MISSING = re.compile(r"Missing required (?:query|path|header|cookie) parameter '(?P<name>[^']+)'")


def _body(
    request: Request[Any, Any, Any], status: int, title: str, detail: str, field: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field:
        body["field"] = field
    return body


def registry_error(request: Request[Any, Any, Any], exc: RegistryError) -> Response[Any]:
    """Our errors: the status of their class; 503s carry ``Retry-After`` and are counted."""
    if isinstance(exc, StoreUnavailable):
        STORE_ERRORS.inc()
    headers = {"Retry-After": "1"} if isinstance(exc, StoreUnavailable) else None
    return Response(
        _body(request, exc.status_code, exc.title, exc.detail, exc.field),
        status_code=exc.status_code,
        media_type=PROBLEM,
        headers=headers,
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: log the traceback (operators need it; the caller must not see it) and answer a
    plain 500 problem. Litestar's own HTTP errors that map to 500 keep their detail."""
    if isinstance(exc, HTTPException):
        detail = exc.detail
    else:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        detail = INTERNAL_DETAIL
    return Response(
        _body(request, 500, "Internal Server Error", detail, None),
        status_code=500,
        media_type=PROBLEM,
    )


def parameter_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A query or path parameter Litestar rejected: 400 naming the public parameter.

    Litestar reports the handler's keyword (``from_version``); the problem names what the
    caller sent (``from``) and, for a parameter with a fixed set of values, lists them.
    """
    errors = exc.extra if isinstance(exc.extra, list) else []
    first: dict[str, Any] = errors[0] if errors and isinstance(errors[0], dict) else {}
    key = str(first.get("key") or "")
    message = str(first.get("message") or exc.detail)
    missing = _MISSING.search(str(exc.detail))
    if missing and not key:
        key = missing.group("name")
    name, allowed = _public(request, key)
    detail = f"{name}: {message}" if name else message
    if missing:
        detail = f"{name}: this query parameter is required"
    if allowed:
        detail = f"{name}: must be one of {', '.join(allowed)}"
    return Response(
        _body(request, 400, "Invalid parameter", detail, name or None),
        status_code=400,
        media_type=PROBLEM,
    )


def _public(request: Request[Any, Any, Any], key: str) -> tuple[str, list[str]]:
    """The public name of handler parameter ``key`` and its allowed values, if a Literal."""
    try:
        params = request.route_handler.parsed_fn_signature.parameters
    except AttributeError:
        return key, []
    field = params.get(key)
    if field is None:
        for candidate in params.values():
            kwarg = candidate.kwarg_definition
            if kwarg is not None and key in (getattr(kwarg, "query", None), candidate.name):
                field = candidate
                break
    if field is None:
        return key, []
    kwarg = field.kwarg_definition
    public = (getattr(kwarg, "query", None) if kwarg is not None else None) or field.name
    return public, _literal_values(field.annotation)


def _literal_values(annotation: Any) -> list[str]:
    """The values of a ``Literal`` inside ``annotation`` (through Optional, list, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    for arg in typing.get_args(annotation):
        found = _literal_values(arg)
        if found:
            return found
    return []
