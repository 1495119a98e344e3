"""``/capabilities``: discovery with ETags (304) and long-polling (``?index=<etag>&wait=30s``)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable
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
    render: Callable[[], Awaitable[tuple[Any, str | None]]],
    change_index: Callable[[], Awaitable[str | None]],
    wait_change: Callable[[str, float], Awaitable[None]],
) -> Response[bytes]:
    """Answer with an ETag; 304 on ``If-None-Match``; block while ``index`` is still current.

    A caller that holds an answer (``If-None-Match`` or ``index``) is checked against the
    store's change index first: one small read, and a 304 or a still-current long-poll
    reads no providers and renders nothing. Otherwise ``render`` reads the page and its
    index together, in one round trip. The ETag comes from the index and the query; while
    the store cannot vouch for its index (the sweeper is behind), it is the body's hash.
    """
    deadline = time.monotonic() + parse_wait(wait, request.app.state.registry.settings.max_wait)
    query = query_key(request)
    held = request.headers.get("if-none-match")
    if index or held:
        token = await change_index()
        while index and token and (same_etag(index, etag_of(query, token)) or index == token):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Woken by the replica's one listener on a change in the namespace (the index
            # of this capability may not have moved: then wait again).
            await wait_change(token, left)
            token = await change_index()
        if token and same_etag(held, etag_of(query, token)):
            return Response(b"", status_code=304, headers=index_headers(query, token))
    page, token = await render()
    body = _encoder.encode(page)
    if token:
        headers = index_headers(query, token)
    else:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        headers = {"Cache-Control": "no-cache", "ETag": f'"{digest}"'}
    if same_etag(held, headers["ETag"]):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def index_headers(query: bytes, token: str) -> dict[str, str]:
    """The headers of an answer whose ETag comes from the change index ``token``."""
    return {"Cache-Control": "no-cache", "ETag": etag_of(query, token), "X-Registry-Index": token}


def query_key(request: Request[Any, Any, Any]) -> bytes:
    """What the answer depends on besides the store: the path and the query, in order,
    without the long-poll parameters."""
    return key_of(request.url.path, request.query_params.multi_items())


def key_of(path: str, params: Iterable[tuple[str, str]]) -> bytes:
    """:func:`query_key` from the path (with the root path) and the decoded parameters."""
    kept = sorted((k, v) for k, v in params if k not in ("index", "wait"))
    return (path + "?" + "&".join(f"{k}={v}" for k, v in kept)).encode()


def etag_of(query: bytes, token: str) -> str:
    """The ETag of the answer to ``query`` (see :func:`query_key`) at index ``token``."""
    return '"i' + hashlib.blake2b(query + b"#" + token.encode(), digest_size=12).hexdigest() + '"'


def same_etag(given: str | None, etag: str) -> bool:
    """Does the ``If-None-Match`` (or ``index``) value ``given`` name ``etag``?"""
    return given is not None and given.strip().strip('"') == etag.strip('"')


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
            lambda: discovery.capabilities_answer(reg, namespace, flt, limit, cursor),
            lambda: discovery.change_index(reg, namespace),
            lambda token, left: discovery.wait_change(reg, namespace, token, left),
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
            lambda: discovery.providers_answer(reg, name, namespace, flt, limit, cursor),
            lambda: discovery.change_index(reg, namespace, name),
            lambda token, left: discovery.wait_change(reg, namespace, token, left),
        )
