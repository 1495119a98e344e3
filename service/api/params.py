"""Query and path parameters shared by the controllers, with their bounds (in the OpenAPI)."""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import PathParameter, QueryParameter

from service.models import (
    AGENT_ID_PATTERN,
    CAPABILITY_PATTERN,
    CONSTRAINT_PATTERN,
    END,
    NAMESPACE_PATTERN,
    AgentStatus,
)
from service.registry.events import EVENT_CURSOR_PATTERN, TIME_DIGITS_PATTERN, EventType
from service.registry.pagination import CURSOR_PATTERN

StatusFilter = AgentStatus

AgentIdPath = Annotated[
    str,
    PathParameter(pattern=AGENT_ID_PATTERN, min_length=1, max_length=64, description="Agent id"),
]
NamespaceQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=NAMESPACE_PATTERN,
        max_length=63,
        description="Only this namespace (all when omitted)",
    ),
]
NamespaceDefault = Annotated[
    str,
    QueryParameter(
        pattern=NAMESPACE_PATTERN,
        max_length=63,
        description="Namespace",
    ),
]
CapabilityQuery = Annotated[
    str | None,
    QueryParameter(pattern=CAPABILITY_PATTERN, max_length=128, description="Capability name"),
]
CapabilityPath = Annotated[
    str,
    PathParameter(pattern=CAPABILITY_PATTERN, max_length=128, description="Capability name"),
]
TagQuery = Annotated[
    list[str] | None,
    QueryParameter(
        name="tag",
        description="Repeatable. A plain tag is required, '-tag' excludes, '+tag' is preferred",
        # An array of strings, not "array or null": a query string has no null.
        schema_extra={
            "one_of": None,
            "type": OpenAPIType.ARRAY,
            "items": Schema(type=OpenAPIType.STRING),
        },
    ),
]
#: The HEAD heartbeat's path: checked by the handler (400), documented here.
AgentIdHeadPath = Annotated[
    str,
    PathParameter(
        description="Agent id",
        schema_extra={"pattern": AGENT_ID_PATTERN, "min_length": 1, "max_length": 64},
    ),
]
StatusQuery = Annotated[
    StatusFilter | None, QueryParameter(description="Only agents in this state")
]
VersionQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=128,
        description="Semver constraint, e.g. '>=1.2,<2', '^1.2', '~1.2'",
        # Checked by the filter (422 naming `version`, as in bodies); documented here.
        schema_extra={"pattern": CONSTRAINT_PATTERN},
    ),
]
LimitQuery = Annotated[
    int | None, QueryParameter(ge=1, description="Page size (capped at REGISTRY_MAX_PAGE_SIZE)")
]
# Cursors are checked by the listings (a bad one is a 422 naming ``cursor``), so the pattern
# is documented, not enforced here (which would answer 400).
CursorQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=512,
        description="next_cursor of the previous page",
        schema_extra={"pattern": CURSOR_PATTERN},
    ),
]
EventCursorQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        description="next_cursor of the previous page (an event id)",
        schema_extra={"pattern": EVENT_CURSOR_PATTERN},
    ),
]
#: ``since``/``until``: epoch milliseconds or an RFC 3339 date-time (422 naming it otherwise).
TimeQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        description="Epoch ms or an RFC 3339 timestamp",
        schema_extra={
            "any_of": [
                Schema(type=OpenAPIType.STRING, pattern=TIME_DIGITS_PATTERN),
                Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
            ]
        },
    ),
]
IndexQuery = Annotated[
    str | None, QueryParameter(max_length=128, description="ETag of the last answer (long-poll)")
]
WaitQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=16,
        description="Long-poll wait, e.g. 30s, 500ms (max 60s)",
        schema_extra={"pattern": r"^[0-9]{1,9}(\.[0-9]{1,6})?(ms|s|m)?" + END},
    ),
]
EventTypesQuery = Annotated[
    list[EventType] | None, QueryParameter(name="type", description="Repeatable event type")
]
