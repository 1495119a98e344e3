"""The registry's MCP tools: each one is a typed front for the function its HTTP endpoint calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from service.domain.catalog import ValidationResult
from service.domain.identity import Identity
from service.errors import RegistryError
from service.models import (
    AgentsPage,
    HealthView,
    HeartbeatRequest,
    HeartbeatResponse,
    ProvidersPage,
)
from service.registry import admin, agents, discovery, figures, heartbeat, rollout_admin
from service.registry.admin import AvailableCapabilities, CapabilitiesBody, CapabilitiesUpdated
from service.registry.context import Registry
from service.registry.figures import PrometheusText, RegistryMetrics
from service.registry.filters import AgentFilter
from service.registry.rollout_admin import RolloutView

from .schemas import (
    AgentArgs,
    ControlRolloutArgs,
    HealthArgs,
    ListAgentsArgs,
    NoArgs,
    ProvidersArgs,
    UpdateCapabilitiesArgs,
    ValidateArgs,
    object_schema,
)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One MCP tool: its argument and result Structs and the call that answers it."""

    name: str
    description: str
    args: type[Any]
    result: type[Any]
    call: Callable[[Registry, Any, Identity], Awaitable[Any]]
    read_only: bool = True
    idempotent: bool = True
    """Calling it again with the same arguments changes nothing more."""
    scope: Literal["read", "agent", "admin"] = "read"
    """Who may call it: ``read`` (or ``agent``) scope, the ``agent`` scope, or ``admin``,
    exactly as the HTTP route group of the same operation."""

    @property
    def admin(self) -> bool:
        """Needs an admin token on the /mcp request."""
        return self.scope == "admin"

    @property
    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments, generated from :attr:`args`."""
        return object_schema(self.args)

    @property
    def output_schema(self) -> dict[str, Any]:
        """JSON Schema of the structured result, generated from :attr:`result`."""
        return object_schema(self.result)


async def _heartbeat(reg: Registry, req: HeartbeatRequest, identity: Identity) -> HeartbeatResponse:
    return await heartbeat.register(reg, req, identity)


async def _list_agents(reg: Registry, args: ListAgentsArgs, identity: Identity) -> AgentsPage:
    flt = AgentFilter(args.capability, tuple(args.tags), args.status, args.version)
    return await agents.list_agents(reg, flt, args.namespace, args.limit, args.cursor)


async def _providers(reg: Registry, args: ProvidersArgs, identity: Identity) -> ProvidersPage:
    flt = AgentFilter(args.capability, tuple(args.tags), args.status, args.version)
    return await discovery.providers_page(
        reg, args.capability, args.namespace, flt, args.limit, args.cursor
    )


async def _health(reg: Registry, args: HealthArgs, identity: Identity) -> HealthView:
    return await agents.agent_health(reg, args.agent_id)


async def _metrics(reg: Registry, _: NoArgs, identity: Identity) -> RegistryMetrics:
    return await figures.registry_figures(reg)


async def _prometheus(_reg: Registry, _: NoArgs, identity: Identity) -> PrometheusText:
    return figures.prometheus_text()


async def _available(reg: Registry, args: AgentArgs, identity: Identity) -> AvailableCapabilities:
    return await admin.agent_available_capabilities(reg, args.agent_id)


async def _update_capabilities(
    reg: Registry, args: UpdateCapabilitiesArgs, identity: Identity
) -> CapabilitiesUpdated:
    body = CapabilitiesBody(capabilities=args.capabilities)
    return await admin.assign_agent_capabilities(reg, args.agent_id, body)


async def _validate(reg: Registry, args: ValidateArgs, identity: Identity) -> ValidationResult:
    try:
        return admin.validate_capability(reg, args.capability)
    except RegistryError as exc:
        if exc.field != "name":
            raise
        # The HTTP body is the capability itself; here it sits under ``capability``.
        detail = f"capability.{exc.detail}" if exc.detail.startswith("name:") else exc.detail
        raise type(exc)(detail, field="capability.name") from None


async def _rollout(reg: Registry, _: NoArgs, identity: Identity) -> RolloutView:
    return await rollout_admin.status(reg)


async def _control_rollout(
    reg: Registry, args: ControlRolloutArgs, identity: Identity
) -> RolloutView:
    return await rollout_admin.control(reg, args.action, args.reason)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "agent_heartbeat",
        "Register an agent or send its full heartbeat (MCP Mesh POST /heartbeat body); "
        "returns each tool's resolved dependencies and the lease.",
        HeartbeatRequest,
        HeartbeatResponse,
        _heartbeat,
        read_only=False,
        scope="agent",
    ),
    ToolSpec(
        "list_available_agents",
        "List registered agents with their capabilities and health status, filtered by "
        "capability, tags, status, namespace or version; pass next_cursor to page on.",
        ListAgentsArgs,
        AgentsPage,
        _list_agents,
    ),
    ToolSpec(
        "get_capability_providers",
        "Find the live agents that provide a capability, optionally matching a semver "
        "constraint, tags and status; returns their endpoints.",
        ProvidersArgs,
        ProvidersPage,
        _providers,
    ),
    ToolSpec(
        "get_agent_health_status",
        "Get one agent's health: status, last heartbeat, time to live left and thresholds.",
        HealthArgs,
        HealthView,
        _health,
    ),
    ToolSpec(
        "get_registry_metrics",
        "Get registry figures: agents by status and namespace, and this replica's counters.",
        NoArgs,
        RegistryMetrics,
        _metrics,
    ),
    ToolSpec(
        "export_prometheus_metrics",
        "Export this replica's metrics in the Prometheus text format (as GET /metrics).",
        NoArgs,
        PrometheusText,
        _prometheus,
    ),
    ToolSpec(
        "get_available_capabilities",
        "Admin: list the catalog capabilities an agent could run now (their dependencies "
        "are met by the agent or by live providers in its namespace).",
        AgentArgs,
        AvailableCapabilities,
        _available,
        scope="admin",
    ),
    ToolSpec(
        "update_agent_capabilities",
        "Admin: assign a registered agent the capabilities to run (catalog names, optional "
        "versions); delivered in its next heartbeat answer.",
        UpdateCapabilitiesArgs,
        CapabilitiesUpdated,
        _update_capabilities,
        read_only=False,
        scope="admin",
    ),
    ToolSpec(
        "validate_capability_dependencies",
        "Admin: check a capability's dependencies against the active catalog; returns "
        "every missing, version-conflicting or cyclic dependency.",
        ValidateArgs,
        ValidationResult,
        _validate,
        scope="admin",
    ),
    ToolSpec(
        "get_config_rollout",
        "Get the config rollout: state (none, running, paused, complete, rolled-back, "
        "aborted), step and shares, each profile's cohorts and gate signals against their "
        "thresholds, and the decision history.",
        NoArgs,
        RolloutView,
        _rollout,
    ),
    ToolSpec(
        "control_config_rollout",
        "Admin: pause, resume, promote (the next step now) or abort (the baseline for "
        "everyone) the open config rollout, with an optional reason; returns the new status.",
        ControlRolloutArgs,
        RolloutView,
        _control_rollout,
        read_only=False,
        idempotent=False,
        scope="admin",
    ),
)
"""Every tool, in the order ``tools/list`` shows them. Admin tools need the admin token."""
