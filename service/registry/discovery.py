"""Capability discovery: the providers of one capability, and the capabilities on offer."""

from __future__ import annotations

import asyncio

from service.domain.matching import Candidate
from service.models import (
    CapabilitiesPage,
    CapabilitySummary,
    ProvidersPage,
    ProviderView,
)
from service.registry.context import Registry
from service.registry.filters import AgentFilter
from service.registry.pagination import decode_cursor, encode_cursor, page_size


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
        status=c.status,
        kwargs=e.kwargs,
    )


def _entry_ok(flt: AgentFilter, c: Candidate) -> bool:
    status = c.status
    if flt.status is not None and flt.status != status:
        return False
    e = c.entry
    return flt.tool_ok(e.capability, e.version, e.tags)


async def change_index(reg: Registry, namespace: str, capability: str = "") -> str | None:
    """The store's change index for one capability (or the namespace): an unchanged index
    means an unchanged answer; ``None`` when only a full read can tell."""
    return await reg.store.change_index(namespace, capability)


async def wait_change(reg: Registry, namespace: str, token: str, seconds: float) -> None:
    """Sleep until ``namespace`` changes after the index ``token`` was read, or ``seconds`` pass."""
    if reg.changes is None:
        await asyncio.sleep(seconds)
        return
    await reg.changes.wait(namespace, token.split("-", 1)[1], seconds)


async def providers_page(
    reg: Registry,
    name: str,
    namespace: str,
    flt: AgentFilter,
    limit: int | None = None,
    cursor: str | None = None,
) -> ProvidersPage:
    """Live providers of ``name`` passing ``flt``, ranked by agent id and function; one page."""
    return (await providers_answer(reg, name, namespace, flt, limit, cursor))[0]


async def providers_answer(
    reg: Registry,
    name: str,
    namespace: str,
    flt: AgentFilter,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[ProvidersPage, str | None]:
    """:func:`providers_page` and the capability's change index of the same read (one
    round trip): what a discovery 200 needs for its body and its ETag."""
    candidates, index = await reg.store.providers_indexed(namespace, name)
    size = page_size(limit, reg.settings)
    start = decode_cursor(cursor, 2)
    live = [c for c in candidates if _entry_ok(flt, c)]
    live.sort(key=lambda c: (c.entry.agent_id, c.entry.function_name))
    if start:
        live = [c for c in live if (c.entry.agent_id, c.entry.function_name) > tuple(start)]
    page = live[:size]
    nxt = (
        encode_cursor(page[-1].entry.agent_id, page[-1].entry.function_name)
        if len(live) > size
        else None
    )
    providers = [_provider(c) for c in page]
    return ProvidersPage(
        capability=name, providers=providers, count=len(page), next_cursor=nxt
    ), index


async def capabilities_page(
    reg: Registry,
    namespace: str,
    flt: AgentFilter,
    limit: int | None = None,
    cursor: str | None = None,
) -> CapabilitiesPage:
    """Capabilities of ``namespace`` with live providers passing ``flt`` (paged by name)."""
    return (await capabilities_answer(reg, namespace, flt, limit, cursor))[0]


async def capabilities_answer(
    reg: Registry,
    namespace: str,
    flt: AgentFilter,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[CapabilitiesPage, str | None]:
    """:func:`capabilities_page` and the namespace's change index, in one round trip."""
    size = page_size(limit, reg.settings)
    start = decode_cursor(cursor, 1)
    page, index = await reg.store.capabilities(namespace, start[0] if start else "", size)
    names = [name for name, _ in page]
    caps = []
    for name, candidates in page:
        live = [c for c in candidates if _entry_ok(flt, c)]
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
    return CapabilitiesPage(capabilities=caps, count=len(caps), next_cursor=nxt), index
