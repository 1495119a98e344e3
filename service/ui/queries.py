"""Everything the dashboard reads, in one place: calls into the application layer.

The dashboard is an adapter: it imports :mod:`service.registry` (and the models and
domain below it), never another adapter. Every function takes the app ``State``.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State

from service.domain.matching import rank
from service.errors import NotFound
from service.models import (
    AgentsPage,
    AgentView,
    CapabilitySummary,
    EventsPage,
    HealthView,
    ProvidersPage,
)
from service.registry import agents as agents_uc
from service.registry import config as config_uc
from service.registry import discovery, events, rollout_admin
from service.registry.context import Registry
from service.registry.drift import DriftReport, compute
from service.registry.figures import RegistryMetrics as RegistryMetrics
from service.registry.figures import registry_figures
from service.registry.filters import AgentFilter
from service.registry.filters import StatusFilter as StatusFilter
from service.registry.follow import ReadPage
from service.registry.follow import event_cursor as event_cursor
from service.registry.rollout_admin import RolloutView
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
    reg: Registry = state.registry
    return reg


async def figures(state: State) -> RegistryMetrics:
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
    return await agents_uc.list_agents(_reg(state), flt, namespace, limit, cursor)


async def agent(state: State, agent_id: str) -> AgentDetail:
    """One agent, its health timer, and the provider each of its dependencies resolves to."""
    reg = _reg(state)
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    view = agent_view(row.doc, row.live, row.now_ms, suspect=row.suspect)
    health = await agents_uc.agent_health(reg, agent_id)
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
    """Capabilities with live providers in ``namespace`` (the first page of names)."""
    reg = _reg(state)
    page = await discovery.capabilities_page(
        reg, namespace, AgentFilter(), reg.settings.max_page_size
    )
    return page.capabilities


async def providers(
    state: State, capability: str, namespace: str, version: str | None, tags: tuple[str, ...]
) -> ProvidersPage:
    """Live providers of ``capability`` (first page)."""
    reg = _reg(state)
    flt = AgentFilter(capability, tags, None, version)
    return await discovery.providers_page(
        reg, capability, namespace, flt, reg.settings.max_page_size
    )


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


async def config_versions(state: State) -> config_uc.VersionsView | None:
    """Published versions, live claims and activations; ``None`` without a bundle."""
    reg = _reg(state)
    if reg.fleet is None:
        return None
    return await config_uc.versions(reg)


async def config_rollout(state: State) -> RolloutView | None:
    """The latest config rollout with its cohorts (``GET /config/rollout``); ``None``
    without a bundle."""
    reg = _reg(state)
    if reg.fleet is None:
        return None
    return await rollout_admin.status(reg)


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
        return await events.events_page(
            _reg(state),
            types=types or (),
            agent_id=agent_id,
            namespace=namespace,
            since=since if cursor is None else None,
            limit=limit,
            cursor=cursor,
        )

    return read
