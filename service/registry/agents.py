"""Agents: the filtered listing, one agent, its health timer, graceful deregistration."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from service.domain.identity import ANONYMOUS, Identity
from service.errors import NotFound
from service.models import AgentsPage, AgentView, HealthView
from service.registry.clock import now_ms
from service.registry.context import Registry
from service.registry.filters import AgentFilter
from service.registry.pagination import decode_cursor, encode_cursor, page_size
from service.store.records import agent_view, iso
from service.store.results import NotOwner
from service.store.store import AgentRow

_SCAN_FACTOR = 10  # a filtered page reads at most this many times `limit` records


async def list_agents(
    reg: Registry, flt: AgentFilter, namespace: str | None, limit: int | None, cursor: str | None
) -> AgentsPage:
    """One page of agents passing ``flt``; ``next_cursor`` continues the list."""
    size = page_size(limit, reg.settings)
    start = decode_cursor(cursor, 2)
    names = [namespace] if namespace else await reg.store.namespaces()
    if start:
        names = [n for n in names if n >= start[0]]
    out: list[AgentView] = []
    budget = size * _SCAN_FACTOR
    for ns in names:
        after = start[1] if start and ns == start[0] else ""
        ids = None
        if flt.capability:
            ids = [i for i in await reg.store.provider_ids(ns, flt.capability) if i > after]
        while True:
            chunk = min(size, budget)
            if ids is not None:
                batch, ids = ids[:chunk], ids[chunk:]
                rows = await reg.store.agents_by_id(ns, batch)
                last = batch[-1] if batch else ""
            else:
                rows, last = await reg.store.list_agents(ns, after, chunk)
            if not last:
                break
            for row in rows:
                view = agent_view(row.doc, row.live, row.now_ms, suspect=row.suspect)
                if flt.matches(row.doc.tools, view.status):
                    out.append(view)
                    if len(out) == size:
                        return _page(out, encode_cursor(ns, row.doc.id))
            after, budget = last, budget - chunk
            if budget <= 0:
                return _page(out, encode_cursor(ns, after))
    return _page(out, None)


async def agent_health(reg: Registry, agent_id: str) -> HealthView:
    """Status, last heartbeat, TTL left and thresholds, from the Redis server clock."""
    row = await _row(reg, agent_id)
    thr = reg.profiles.thresholds_for(row.doc.prof)
    live = row.live
    ttl = live.ttl_ms if live else int(thr.expire_after * 1000)
    return HealthView(
        agent_id=agent_id,
        status=live.status if live else "suspect" if row.suspect else "expired",
        last_heartbeat=iso(row.now_ms - live.age_ms) if live and live.age_ms is not None else None,
        age_ms=live.age_ms if live else None,
        ttl_remaining_ms=max(ttl - (live.age_ms or 0), 0) if live else 0,
        heartbeat_interval_ms=int(thr.heartbeat_interval * 1000),
        degraded_after_ms=live.degraded_ms if live else int(thr.degraded_after * 1000),
        expire_after_ms=ttl,
        retention_ms=live.retention_ms if live else int(thr.retention * 1000),
    )


async def _row(reg: Registry, agent_id: str) -> AgentRow:
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    return row


def _page(agents: list[AgentView], cursor: str | None) -> AgentsPage:
    return AgentsPage(agents=agents, count=len(agents), timestamp=iso(now_ms()), next_cursor=cursor)


async def get_agent(reg: Registry, agent_id: str, identity: Identity = ANONYMOUS) -> AgentView:
    """The agent's record and current status (``expired`` during retention); an admin also
    sees the identity the id is bound to."""
    row = await _row(reg, agent_id)
    view = agent_view(row.doc, row.live, row.now_ms, suspect=row.suspect)
    if identity.has("admin"):
        view = msgspec.structs.replace(view, owner=row.doc.own)
    return view


class OwnerBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT /admin/agents/{id}/owner``: the identity to bind the id to (``token:<subject>``
    or ``mtls:<certificate name>``)."""

    owner: Annotated[str, Meta(pattern=r"^(token|mtls):.+$", max_length=512)]


class Ownership(msgspec.Struct, kw_only=True, frozen=True):
    """The binding of an agent id after an admin changed it (``""``: released)."""

    agent_id: str
    owner: str


async def set_owner(reg: Registry, agent_id: str, owner: str) -> Ownership:
    """Transfer an id to ``owner``, or release it (``""``): its next registration binds it."""
    if not await reg.store.set_owner(agent_id, owner):
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    return Ownership(agent_id=agent_id, owner=owner)


async def deregister(reg: Registry, agent_id: str, identity: Identity = ANONYMOUS) -> None:
    """Remove the agent; consumers are rewired at their next heartbeat."""
    reg.access.require_agent(identity, agent_id, None)
    try:
        removed = await reg.store.unregister(agent_id, identity.owner)
    except NotOwner:
        raise reg.access.denied_owner(identity, agent_id) from None
    if not removed:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
