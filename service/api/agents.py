"""``/agents``: MCP Mesh's list plus lookups, health and graceful deregistration."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete

from service.models import AgentsPage, AgentView, HealthView
from service.registry import agents
from service.registry.filters import AgentFilter

from .params import (
    AgentIdPath,
    CapabilityQuery,
    CursorQuery,
    LimitQuery,
    NamespaceQuery,
    StatusQuery,
    TagQuery,
    VersionQuery,
)
from .wiring import Reg, agent_guard, get, identity_of, problems


class AgentsController(Controller):
    """Agents as discovery sees them (deregistration is the agent's own call, in heartbeat)."""

    path = "/agents"
    tags = ["agents"]

    @get("/", summary="List agents (filtered, cursor-paginated)", responses=problems(400, 422, 503))
    async def list_agents(
        self,
        reg: Reg,
        capability: CapabilityQuery = None,
        tag: TagQuery = None,
        status: StatusQuery = None,
        namespace: NamespaceQuery = None,
        version: VersionQuery = None,
        limit: LimitQuery = None,
        cursor: CursorQuery = None,
    ) -> AgentsPage:
        """Agents with their capabilities and status; ``next_cursor`` continues the list."""
        flt = AgentFilter(capability, tuple(tag or ()), status, version)
        return await agents.list_agents(reg, flt, namespace, limit, cursor)

    @get("/{agent_id:str}", summary="One agent", responses=problems(400, 404, 503))
    async def get_agent(
        self, reg: Reg, agent_id: AgentIdPath, request: Request[Any, Any, Any]
    ) -> AgentView:
        """The agent's record and current status (``expired`` during retention); admins
        also see ``owner``, the identity the id is bound to."""
        return await agents.get_agent(reg, agent_id, identity_of(request))

    @get(
        "/{agent_id:str}/health",
        summary="One agent's health timer",
        responses=problems(400, 404, 503),
    )
    async def get_health(self, reg: Reg, agent_id: AgentIdPath) -> HealthView:
        """Status, last heartbeat, TTL left and thresholds, from the Redis server clock."""
        return await agents.agent_health(reg, agent_id)

    @delete(
        "/{agent_id:str}",
        status_code=204,
        summary="Deregister gracefully",
        guards=[agent_guard],  # the agent's own call, within the read group of /agents
        responses=problems(400, 401, 403, 404, 503),
    )
    async def delete_agent(
        self, reg: Reg, agent_id: AgentIdPath, request: Request[Any, Any, Any]
    ) -> None:
        """Remove the agent; consumers are rewired at their next heartbeat."""
        await agents.deregister(reg, agent_id, identity_of(request))
