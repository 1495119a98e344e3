"""The registry's MCP tools: each one is a typed front for the function its HTTP endpoint calls."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from service.api.admin import (
    AvailableCapabilities,
    CapabilitiesBody,
    CapabilitiesUpdated,
    agent_available_capabilities,
    assign_agent_capabilities,
    validate_capability,
)
from service.api.agents import agent_health, agents_page
from service.api.capabilities import providers_page
from service.api.deps import Registry, decode_cursor, page_size
from service.api.filters import AgentFilter
from service.api.heartbeat import full_heartbeat, validate_semantics
from service.api.metrics import registry_figures
from service.domain.catalog import ValidationResult
from service.errors import RegistryError
from service.models import (
    AgentsPage,
    HealthView,
    HeartbeatRequest,
    HeartbeatResponse,
    ProvidersPage,
)

from .schemas import (
    AgentArgs,
    HealthArgs,
    ListAgentsArgs,
    NoArgs,
    PrometheusText,
    ProvidersArgs,
    RegistryMetrics,
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
    call: Callable[[Registry, Any], Awaitable[Any]]
    read_only: bool = True
    admin: bool = False
    """Needs ``Authorization: Bearer <REGISTRY_ADMIN_TOKEN>`` on the /mcp request."""

    @property
    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments, generated from :attr:`args`."""
        return object_schema(self.args)

    @property
    def output_schema(self) -> dict[str, Any]:
        """JSON Schema of the structured result, generated from :attr:`result`."""
        return object_schema(self.result)


async def _heartbeat(reg: Registry, req: HeartbeatRequest) -> HeartbeatResponse:
    # The same semantic checks and the same store call as POST /heartbeat.
    validate_semantics(req)
    return await full_heartbeat(reg, req)


async def _list_agents(reg: Registry, args: ListAgentsArgs) -> AgentsPage:
    flt = AgentFilter(args.capability, tuple(args.tags), args.status, args.version)
    return await agents_page(reg, flt, args.namespace, args.limit, args.cursor)


async def _providers(reg: Registry, args: ProvidersArgs) -> ProvidersPage:
    flt = AgentFilter(args.capability, tuple(args.tags), args.status, args.version)
    size = page_size(args.limit, reg.settings)
    start = decode_cursor(args.cursor, 2)
    return await providers_page(reg, args.capability, args.namespace, flt, size, start)


async def _health(reg: Registry, args: HealthArgs) -> HealthView:
    return await agent_health(reg, args.agent_id)


async def _metrics(reg: Registry, _: NoArgs) -> RegistryMetrics:
    # Converting (rather than trusting) the dict keeps the declared output schema honest.
    return msgspec.convert(await registry_figures(reg), RegistryMetrics)


async def _prometheus(_reg: Registry, _: NoArgs) -> PrometheusText:
    # The collector choice mirrors Litestar's PrometheusController behind GET /metrics:
    # with several workers, only the multiprocess collector sees every process's samples.
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return PrometheusText(content_type=CONTENT_TYPE_LATEST, text=generate_latest(registry).decode())


async def _available(reg: Registry, args: AgentArgs) -> AvailableCapabilities:
    return await agent_available_capabilities(reg, args.agent_id)


async def _update_capabilities(reg: Registry, args: UpdateCapabilitiesArgs) -> CapabilitiesUpdated:
    body = CapabilitiesBody(capabilities=args.capabilities)
    return await assign_agent_capabilities(reg, args.agent_id, body)


async def _validate(reg: Registry, args: ValidateArgs) -> ValidationResult:
    try:
        return validate_capability(reg, args.capability)
    except RegistryError as exc:
        if exc.field != "name":
            raise
        # The HTTP body is the capability itself; here it sits under ``capability``.
        detail = f"capability.{exc.detail}" if exc.detail.startswith("name:") else exc.detail
        raise type(exc)(detail, field="capability.name") from None


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "agent_heartbeat",
        "Register an agent or send its full heartbeat (MCP Mesh POST /heartbeat body); "
        "returns each tool's resolved dependencies and the lease.",
        HeartbeatRequest,
        HeartbeatResponse,
        _heartbeat,
        read_only=False,
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
        admin=True,
    ),
    ToolSpec(
        "update_agent_capabilities",
        "Admin: assign a registered agent the capabilities to run (catalog names, optional "
        "versions); delivered in its next heartbeat answer.",
        UpdateCapabilitiesArgs,
        CapabilitiesUpdated,
        _update_capabilities,
        read_only=False,
        admin=True,
    ),
    ToolSpec(
        "validate_capability_dependencies",
        "Admin: check a capability's dependencies against the active catalog; returns "
        "every missing, version-conflicting or cyclic dependency.",
        ValidateArgs,
        ValidationResult,
        _validate,
        admin=True,
    ),
)
"""Every tool, in the order ``tools/list`` shows them. Admin tools need the admin token."""
