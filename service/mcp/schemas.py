"""Tool arguments and results of the MCP interface, as msgspec Structs (the schemas' only source).

Argument Structs forbid unknown fields: a misspelt argument is an error naming it, not ignored.
The heartbeat tool takes :class:`service.models.HeartbeatRequest` itself and the tools return
the application layer's own result Structs; only argument shapes live here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from service.models import (
    AgentId,
    AgentStatus,
    Capability,
    Constraint,
    Namespace,
    ProviderStatus,
    Tag,
)
from service.registry.admin import AssignedCapability
from service.registry.rollout_admin import REASON_MAX_LENGTH, Action

Status = AgentStatus
Limit = Annotated[int, Meta(ge=1, description="Page size (default and maximum are configured)")]
Cursor = Annotated[str, Meta(max_length=512, description="next_cursor of the previous page")]
TagFilter = Annotated[
    list[Tag],
    Meta(max_length=32, description="Each tag is required; '-tag' excludes agents with it"),
]


class ListAgentsArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Filters of ``list_available_agents`` (the query parameters of ``GET /agents``)."""

    capability: Capability | None = None
    tags: TagFilter = []
    status: Status | None = None
    namespace: Namespace | None = None
    version: (
        Annotated[Constraint, Meta(description="Semver constraint, e.g. '>=1.2,<2'")] | None
    ) = None
    limit: Limit | None = None
    cursor: Cursor | None = None


class ProvidersArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``get_capability_providers`` (``GET /capabilities/{name}/providers``)."""

    capability: Capability
    version: Annotated[Constraint, Meta(description="Semver constraint, e.g. '^1.2'")] | None = None
    tags: TagFilter = []
    namespace: Namespace = "default"
    status: ProviderStatus | None = None
    limit: Limit | None = None
    cursor: Cursor | None = None


class HealthArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``get_agent_health_status``."""

    agent_id: AgentId


class AgentArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``get_available_capabilities``."""

    agent_id: AgentId


class UpdateCapabilitiesArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``update_agent_capabilities`` (path id and body of the HTTP ``PUT``)."""

    agent_id: AgentId
    capabilities: Annotated[
        list[AssignedCapability],
        Meta(max_length=64, description="The full set to run; replaces any earlier assignment"),
    ]


class ValidateArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``validate_capability_dependencies`` (the HTTP body, under ``capability``)."""

    capability: Annotated[
        dict[str, Any],
        Meta(
            description="A catalog-shaped capability ({name, versions, dependencies: "
            "[{capability, version}]}), or just {name} of a catalog entry"
        ),
    ]


class ControlRolloutArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Arguments of ``control_config_rollout`` (``POST /admin/config/rollout/{action}``)."""

    action: Annotated[
        Action,
        Meta(
            description="pause | resume | promote (the next step now; past the last, the "
            "candidate becomes active) | abort (the baseline for everyone)"
        ),
    ]
    reason: Annotated[
        str,
        Meta(
            max_length=REASON_MAX_LENGTH,
            description="Why, for the decision history (default: '<action> by an operator')",
        ),
    ] = ""


class NoArgs(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Tools that take no arguments."""


def object_schema(model: type[Any]) -> dict[str, Any]:
    """JSON Schema of a Struct with the object at the root, as MCP requires.

    msgspec puts every Struct in ``$defs`` and answers a ``$ref``; the root object is lifted
    out and the other definitions stay in ``$defs``, so nested ``$ref``\\s still resolve.
    """
    schema = msgspec.json.schema(model)
    defs: dict[str, Any] = schema.get("$defs", {})
    name = schema["$ref"].rsplit("/", 1)[-1]
    root: dict[str, Any] = dict(defs.pop(name))
    if defs:
        root["$defs"] = defs
    return root
