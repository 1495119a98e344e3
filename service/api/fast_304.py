"""Discovery revalidations (``If-None-Match`` answered 304) as a raw ASGI fast path.

Consumers poll ``GET /capabilities`` and ``GET /capabilities/{name}/providers`` with the
ETag they hold, and nearly every answer is a 304. The routed handler already answers one
from a single small read of the change index, but Litestar's per-request machinery
(routing, the signature model, parameter validation, dependency injection, the response
object) then costs more than the read itself. This path answers that 304 itself, with the
same guard (:func:`service.api.wiring.read_guard`'s scopes), the same read
(:func:`service.registry.discovery.change_index`), the same headers
(:func:`service.api.capabilities.index_headers`) and the same request metrics.

It takes only the plainest form: ``GET`` with ``If-None-Match``, no query or only a valid
``namespace=`` (no escapes), a valid capability name. Everything else, and every answer
that is not a 304 (a changed index, a refused caller, an index the store cannot vouch
for), goes to Litestar unchanged, which then answers exactly as before.
"""

from __future__ import annotations

import re
import time
from typing import Any

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp

from service.errors import RegistryError, StoreUnavailable
from service.models import CAPABILITY_PATTERN, NAMESPACE_PATTERN
from service.registry import discovery

from .capabilities import etag_of, index_headers, key_of, same_etag
from .raw import caller, headers_of, problem_response, respond

ROOT = "/capabilities"
_PROVIDERS = "/providers"
_NAME = re.compile(CAPABILITY_PATTERN)
_NAMESPACE = re.compile(NAMESPACE_PATTERN)
#: The Litestar path templates of the two routes: the ``path`` label of their metrics.
TEMPLATES = {"list": "/capabilities", "providers": "/capabilities/{name}/providers"}


def fast_not_modified(inner: ASGIApp, prometheus: PrometheusConfig) -> ASGIApp:
    """Wrap Litestar's ASGI handler with the 304 fast path (metrics as ``prometheus``)."""
    meter = PrometheusMiddleware(app=inner, config=prometheus)
    app_name = prometheus.app_name
    # Label children bound once per (route, status), as heartbeat.count binds its own:
    # ``labels()`` validates, joins and locks on every call.
    bound: dict[tuple[str, int], tuple[Any, Any, Any]] = {}

    def observe(template: str, status: int, started: float) -> None:
        children = bound.get((template, status))
        if children is None:
            # The label set and order PrometheusMiddleware uses: method, path, status, app.
            labels: dict[str, str | int | float] = {
                "method": "GET",
                "path": template,
                "status_code": status,
                "app_name": app_name,
            }
            values = list(labels.values())
            children = bound[template, status] = (
                meter.request_count(labels).labels(*values),
                meter.request_time(labels).labels(*values),
                meter.requests_error_count(labels).labels(*values) if status >= 500 else None,
            )
        count, timer, errors = children
        if errors is not None:
            errors.inc()
        count.inc()
        timer.observe(time.perf_counter() - started)

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        target = _target(scope)
        if target is None:
            await inner(scope, receive, send)
            return
        started = time.perf_counter()
        template, namespace, name = target
        raw = headers_of(scope)
        held = raw.get("if-none-match")
        reg = scope["app"].state.registry
        try:
            identity = caller(scope, reg, raw)
            reg.access.require(identity, "read", "agent", "admin")  # as wiring.read_guard
        except RegistryError:
            await inner(scope, receive, send)  # the route answers the 401/403 problem
            return
        try:
            token = await discovery.change_index(reg, namespace, name)
        except StoreUnavailable as exc:
            status, headers, body = problem_response(exc, scope["path"])
            await respond(send, status, headers, body)
            observe(template, status, started)
            return
        params = [("namespace", namespace)] if scope["query_string"] else []
        key = key_of(scope.get("root_path", "") + scope["path"], params)
        if not token or not same_etag(held, etag_of(key, token)):
            await inner(scope, receive, send)  # changed (or unvouched): the full answer
            return
        headers = [(k.lower().encode(), v.encode()) for k, v in index_headers(key, token).items()]
        await respond(send, 304, headers, b"")
        observe(template, 304, started)

    return handler


def _target(scope: Any) -> tuple[str, str, str] | None:
    """``(path template, namespace, capability)`` of a request this path takes, or None."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if not path.startswith(ROOT):
        return None
    if not any(k == b"if-none-match" for k, _ in scope["headers"]):
        return None
    query: bytes = scope["query_string"]
    namespace = "default"
    if query:
        if not query.startswith(b"namespace=") or b"&" in query or b"%" in query:
            return None
        namespace = query[len(b"namespace=") :].decode("latin-1")
        if b"+" in query or not _NAMESPACE.match(namespace):
            return None
    if path == ROOT:
        return TEMPLATES["list"], namespace, ""
    name = path[len(ROOT) + 1 : -len(_PROVIDERS)]
    if (
        path[len(ROOT)] != "/"
        or not path.endswith(_PROVIDERS)
        or not name
        or "/" in name
        or len(name) > 128
        or not _NAME.match(name)
    ):
        return None
    return TEMPLATES["providers"], namespace, name
