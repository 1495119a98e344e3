"""Everything the dashboard reads, in one place.

The dashboard is an adapter: it must not depend on other adapters. Until the application
layer (``service.registry``) exists, these functions call the use-cases where they live
today (the HTTP API modules); re-pointing the dashboard means editing this module only.
Every function takes the app ``State`` and returns the wire models of ``service.models``
(or plain dicts where the API returns them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.datastructures import State

from service.api.agents import agent_health, agents_page
from service.api.capabilities import providers_page
from service.api.config import ConfigController
from service.api.deps import Registry, encode_cursor
from service.api.events import list_events
from service.api.filters import AgentFilter
from service.api.filters import StatusFilter as StatusFilter
from service.api.metrics import registry_figures
from service.drift import DriftReport, compute
from service.errors import NotFound
from service.event_follow import ReadPage
from service.matching import rank
from service.models import (
    AgentsPage,
    AgentView,
    CapabilitySummary,
    Event,
    EventsPage,
    HealthView,
    ProvidersPage,
)
from service.store.records import agent_view


@dataclass(frozen=True, slots=True)
class AgentDetail:
    """What the agent page shows."""

    view: AgentView
    health: HealthView
    wires: list[Wire]
    capabilities_version: str | None


@dataclass(frozen=True, slots=True)
class Wire:
    """One declared dependency of one function, and the provider it resolves to now."""

    function_name: str
    capability: str
    constraint: str
    tags: str
    provider: str  # agent id, "" when unresolved
    provider_function: str
    endpoint: str


def _reg(state: State) -> Registry:
    return Registry.of(state)


async def figures(state: State) -> dict[str, Any]:
    """Counts by status and namespace (from Redis) and this replica's counters."""
    return await registry_figures(_reg(state))


async def agents(
    state: State,
    *,
    capability: str | None = None,
    tags: tuple[str, ...] = (),
    status: StatusFilter | None = None,
    namespace: str | None = None,
    version: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> AgentsPage:
    """One page of agents, filtered like ``GET /agents``."""
    flt = AgentFilter(capability, tags, status, version)
    return await agents_page(_reg(state), flt, namespace, limit, cursor)


async def agent(state: State, agent_id: str) -> AgentDetail:
    """One agent, its health timer, and the provider each of its dependencies resolves to."""
    reg = _reg(state)
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    view = agent_view(row.doc, row.live, row.now_ms)
    health = await agent_health(reg, agent_id)
    wires: list[Wire] = []
    for tool in row.doc.tools:
        for dep in tool.dependencies:
            ns = dep.namespace or row.doc.ns
            ranked = rank(dep, await reg.store.providers(ns, dep.capability), namespace=ns)
            best = ranked[0].entry if ranked else None
            wires.append(
                Wire(
                    function_name=tool.function_name,
                    capability=dep.capability,
                    constraint=dep.version or "*",
                    tags=", ".join(str(t) for t in dep.tags) or "-",
                    provider=best.agent_id if best else "",
                    provider_function=best.function_name if best else "",
                    endpoint=best.endpoint if best else "",
                )
            )
    return AgentDetail(view, health, wires, row.doc.capv)


async def capabilities(state: State, namespace: str) -> list[CapabilitySummary]:
    """Capabilities with live providers in ``namespace`` (first page of names)."""
    reg = _reg(state)
    out: list[CapabilitySummary] = []
    for name in await reg.store.capability_names(namespace, "", reg.settings.max_page_size):
        live = await reg.store.providers(namespace, name)
        if live:
            out.append(
                CapabilitySummary(
                    name=name,
                    namespace=namespace,
                    providers=len(live),
                    versions=sorted({c.entry.version for c in live}),
                    tags=sorted({t for c in live for t in c.entry.tags}),
                )
            )
    return out


async def providers(
    state: State, capability: str, namespace: str, version: str | None, tags: tuple[str, ...]
) -> ProvidersPage:
    """Live providers of ``capability`` (first page)."""
    reg = _reg(state)
    flt = AgentFilter(capability, tags, None, version)
    return await providers_page(reg, capability, namespace, flt, reg.settings.max_page_size, None)


async def namespaces(state: State) -> list[str]:
    """Namespaces that hold agents."""
    return await _reg(state).store.namespaces()


async def drift(state: State) -> DriftReport | None:
    """Drift and convergence per profile; ``None`` without a config bundle."""
    reg = _reg(state)
    if reg.fleet is None:
        return None
    report, _ = await compute(reg)
    return report


async def config_versions(state: State) -> dict[str, Any] | None:
    """Published versions, live claims and activations; ``None`` without a bundle."""
    if _reg(state).fleet is None:
        return None
    result: dict[str, Any] = await ConfigController.versions.fn(None, state)
    return result


def events_reader(
    state: State,
    *,
    types: list[str] | None = None,
    agent_id: str | None = None,
    namespace: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> ReadPage:
    """``read(cursor) -> EventsPage`` for :mod:`service.event_follow` (filters bound)."""

    async def read(cursor: str | None) -> EventsPage:
        page: EventsPage = await list_events.fn(
            state=state,
            type_=types or None,
            agent_id=agent_id,
            namespace=namespace,
            since=since if cursor is None else None,
            until=None,
            limit=limit,
            cursor=cursor,
        )
        return page

    return read


def event_cursor(event: Event) -> str:
    """The ``GET /events`` cursor that continues after ``event``."""
    return encode_cursor(event.id)
