"""``/capabilities``: discovery with ETags (304) and long-polling (``?index=<etag>&wait=30s``)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response
from litestar.openapi.datastructures import ResponseSpec

from service.errors import InvalidInput
from service.models import CapabilitiesPage, ProvidersPage
from service.registry import discovery
from service.registry.filters import AgentFilter

from .params import (
    CapabilityPath,
    CursorQuery,
    IndexQuery,
    LimitQuery,
    NamespaceDefault,
    StatusQuery,
    TagQuery,
    VersionQuery,
    WaitQuery,
)
from .wiring import Reg, get, problems

_WAIT = re.compile(r"(?P<n>[0-9]{1,9}(?:\.[0-9]{1,6})?)(?P<unit>ms|s|m)?\Z")
MAX_WAIT_S = 60.0
POLL_EVERY_S = 0.25
_encoder = msgspec.json.Encoder()


def parse_wait(text: str | None, cap: float = MAX_WAIT_S) -> float:
    """``30s``, ``500ms``, ``1m`` or plain seconds, capped at ``cap`` (REGISTRY_MAX_WAIT)."""
    if text is None:
        return 0.0
    m = _WAIT.match(text)
    if not m:
        raise InvalidInput("wait: use a duration such as 30s or 500ms", field="wait")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group("unit") or "s"]
    return min(float(m.group("n")) * scale, cap)


async def conditional(
    request: Request[Any, Any, Any],
    index: str | None,
    wait: str | None,
    render: Callable[[], Awaitable[Any]],
) -> Response[bytes]:
    """Answer with an ETag; 304 on ``If-None-Match``; block while ``index`` is still current."""
    deadline = time.monotonic() + parse_wait(wait, request.app.state.registry.settings.max_wait)
    while True:
        body = _encoder.encode(await render())
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if not index or index.strip('"') != etag.strip('"') or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_EVERY_S)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") in (etag, etag.strip('"')):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _ok(page: type[Any]) -> dict[int, ResponseSpec]:
    # The body is encoded by hand (its bytes make the ETag): document what it holds.
    return {
        200: ResponseSpec(data_container=page, description="One page (with an ETag)"),
        304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
        **problems(400, 422, 503),
    }


class CapabilitiesController(Controller):
    """What is provided, and by whom."""

    path = "/capabilities"
    tags = ["discovery"]

    @get("/", summary="List capabilities with live providers", responses=_ok(CapabilitiesPage))
    async def list_capabilities(
        self,
        request: Request[Any, Any, Any],
        reg: Reg,
        namespace: NamespaceDefault = "default",
        tag: TagQuery = None,
        status: StatusQuery = None,
        version: VersionQuery = None,
        limit: LimitQuery = None,
        cursor: CursorQuery = None,
        index: IndexQuery = None,
        wait: WaitQuery = None,
    ) -> Response[bytes]:
        """Capabilities in ``namespace`` (paginated by name) with provider counts."""
        flt = AgentFilter(None, tuple(tag or ()), status, version)
        return await conditional(
            request,
            index,
            wait,
            lambda: discovery.capabilities_page(reg, namespace, flt, limit, cursor),
        )

    @get(
        "/{name:str}/providers",
        summary="Live providers of one capability",
        responses=_ok(ProvidersPage),
    )
    async def providers(
        self,
        request: Request[Any, Any, Any],
        reg: Reg,
        name: CapabilityPath,
        namespace: NamespaceDefault = "default",
        tag: TagQuery = None,
        status: StatusQuery = None,
        version: VersionQuery = None,
        limit: LimitQuery = None,
        cursor: CursorQuery = None,
        index: IndexQuery = None,
        wait: WaitQuery = None,
    ) -> Response[bytes]:
        """Providers ranked by agent id and function; filtered by tag, version and status."""
        flt = AgentFilter(name, tuple(tag or ()), status, version)
        return await conditional(
            request,
            index,
            wait,
            lambda: discovery.providers_page(reg, name, namespace, flt, limit, cursor),
        )
