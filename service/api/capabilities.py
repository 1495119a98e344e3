"""Capability discovery with ETags (304) and long-polling (``?index=<etag>&wait=30s``)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter

from service.domain.matching import Candidate
from service.errors import InvalidInput
from service.models import (
    CapabilitiesPage,
    CapabilitySummary,
    ProvidersPage,
    ProviderView,
    Tool,
)

from .deps import Registry, decode_cursor, encode_cursor, json_body, page_size
from .filters import AgentFilter, StatusFilter

_WAIT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m)?$")
MAX_WAIT_S = 60.0
POLL_EVERY_S = 0.25


def parse_wait(text: str | None) -> float:
    """``30s``, ``500ms``, ``1m`` or plain seconds, capped at :data:`MAX_WAIT_S`."""
    if not text:
        return 0.0
    m = _WAIT.match(text.strip())
    if not m:
        raise InvalidInput("wait: use a duration such as 30s or 500ms", field="wait")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group("unit") or "s"]
    return min(float(m.group("n")) * scale, MAX_WAIT_S)


async def conditional(
    request: Request[Any, Any, Any],
    index: str | None,
    wait: str | None,
    render: Callable[[], Awaitable[bytes]],
) -> Response[bytes]:
    """Answer with an ETag; 304 on ``If-None-Match``; block while ``index`` is still current."""
    deadline = time.monotonic() + parse_wait(wait)
    while True:
        body = await render()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if not index or index.strip('"') != etag.strip('"') or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_EVERY_S)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") in (etag, etag.strip('"')):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _provider(c: Candidate) -> ProviderView:
    e = c.entry
    return ProviderView(
        agent_id=e.agent_id,
        function_name=e.function_name,
        capability=e.capability,
        version=e.version,
        tags=e.tags,
        endpoint=e.endpoint,
        namespace=e.namespace,
        status="degraded" if c.degraded else "healthy",
        kwargs=e.kwargs,
    )


def _entry_ok(flt: AgentFilter, c: Candidate) -> bool:
    status = "degraded" if c.degraded else "healthy"
    if flt.status is not None and flt.status != status:
        return False
    e = c.entry
    return flt.tool_ok(
        Tool(function_name=e.function_name, capability=e.capability, version=e.version, tags=e.tags)
    )


async def providers_page(
    reg: Registry,
    name: str,
    namespace: str,
    flt: AgentFilter,
    size: int,
    start: list[str] | None,
) -> ProvidersPage:
    """Live providers of ``name`` passing ``flt``, one page (shared by HTTP and MCP)."""
    live = [c for c in await reg.store.providers(namespace, name) if _entry_ok(flt, c)]
    live.sort(key=lambda c: (c.entry.agent_id, c.entry.function_name))
    if start:
        live = [c for c in live if (c.entry.agent_id, c.entry.function_name) > tuple(start)]
    page = live[:size]
    nxt = (
        encode_cursor(page[-1].entry.agent_id, page[-1].entry.function_name)
        if len(live) > size
        else None
    )
    return ProvidersPage(
        capability=name, providers=[_provider(c) for c in page], count=len(page), next_cursor=nxt
    )


class CapabilitiesController(Controller):
    """``/capabilities``: what is provided, and by whom."""

    path = "/capabilities"

    @get("/", summary="List capabilities with live providers")
    async def list_capabilities(
        self,
        request: Request[Any, Any, Any],
        state: State,
        namespace: FromQuery[str] = "default",
        tag: Annotated[list[str] | None, QueryParameter(name="tag")] = None,
        status: FromQuery[StatusFilter | None] = None,
        version: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
        index: FromQuery[str | None] = None,
        wait: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Capabilities in ``namespace`` (paginated by name) with provider counts."""
        reg = Registry.of(state)
        size = page_size(limit, reg.settings)
        start = decode_cursor(cursor, 1)
        flt = AgentFilter(None, tuple(tag or ()), status, version)

        async def render() -> bytes:
            names = await reg.store.capability_names(namespace, start[0] if start else "", size)
            caps = []
            for name in names:
                live = [c for c in await reg.store.providers(namespace, name) if _entry_ok(flt, c)]
                if not live:
                    continue
                caps.append(
                    CapabilitySummary(
                        name=name,
                        namespace=namespace,
                        providers=len(live),
                        versions=sorted({c.entry.version for c in live}),
                        tags=sorted({t for c in live for t in c.entry.tags}),
                    )
                )
            nxt = encode_cursor(names[-1]) if len(names) == size else None
            return json_body(CapabilitiesPage(capabilities=caps, count=len(caps), next_cursor=nxt))

        return await conditional(request, index, wait, render)

    @get("/{name:str}/providers", summary="Live providers of one capability")
    async def providers(
        self,
        request: Request[Any, Any, Any],
        state: State,
        name: FromPath[str],
        namespace: FromQuery[str] = "default",
        tag: Annotated[list[str] | None, QueryParameter(name="tag")] = None,
        status: FromQuery[StatusFilter | None] = None,
        version: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
        index: FromQuery[str | None] = None,
        wait: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Providers ranked by agent id and function; filtered by tag, version and status."""
        reg = Registry.of(state)
        size = page_size(limit, reg.settings)
        start = decode_cursor(cursor, 2)
        flt = AgentFilter(name, tuple(tag or ()), status, version)

        async def render() -> bytes:
            return json_body(await providers_page(reg, name, namespace, flt, size, start))

        return await conditional(request, index, wait, render)
