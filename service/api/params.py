"""Query and path parameters shared by the controllers, with their bounds (in the OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar.params import PathParameter, QueryParameter

from service.registry.events import EventType

StatusFilter = Literal["healthy", "degraded", "expired"]

AgentIdPath = Annotated[
    str,
    PathParameter(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64, description="Agent id"),
]
NamespaceQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        max_length=63,
        description="Only this namespace (all when omitted)",
    ),
]
NamespaceDefault = Annotated[
    str,
    QueryParameter(
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        max_length=63,
        description="Namespace",
    ),
]
CapabilityQuery = Annotated[
    str | None,
    QueryParameter(pattern=r"^[A-Za-z0-9_.:/-]+$", max_length=128, description="Capability name"),
]
CapabilityPath = Annotated[
    str,
    PathParameter(pattern=r"^[A-Za-z0-9_.:/-]+$", max_length=128, description="Capability name"),
]
TagQuery = Annotated[
    list[str] | None,
    QueryParameter(
        name="tag",
        description="Repeatable. A plain tag is required, '-tag' excludes, '+tag' is preferred",
    ),
]
StatusQuery = Annotated[
    StatusFilter | None, QueryParameter(description="Only agents in this state")
]
VersionQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=128, description="Semver constraint, e.g. '>=1.2,<2', '^1.2', '~1.2'"
    ),
]
LimitQuery = Annotated[int | None, QueryParameter(ge=1, description="Page size")]
CursorQuery = Annotated[
    str | None, QueryParameter(max_length=512, description="next_cursor of the previous page")
]
IndexQuery = Annotated[
    str | None, QueryParameter(max_length=128, description="ETag of the last answer (long-poll)")
]
WaitQuery = Annotated[
    str | None,
    QueryParameter(max_length=16, description="Long-poll wait, e.g. 30s, 500ms (max 60s)"),
]
EventTypesQuery = Annotated[
    list[EventType] | None, QueryParameter(name="type", description="Repeatable event type")
]
