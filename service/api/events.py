"""``GET /events``: the capped event history, filtered by type, agent and time."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from service.models import EventsPage
from service.registry import events

from .params import CursorQuery, EventTypesQuery, LimitQuery, NamespaceQuery
from .wiring import Reg, get, problems

_Time = Annotated[
    str | None, QueryParameter(max_length=64, description="Epoch ms or an RFC 3339 timestamp")
]


@get(
    "/events", summary="Registry event history", tags=["events"], responses=problems(400, 422, 503)
)
async def list_events(
    reg: Reg,
    type: EventTypesQuery = None,
    agent_id: Annotated[
        str | None,
        QueryParameter(pattern=r"^[A-Za-z0-9_-]+$", max_length=64, description="Only this agent"),
    ] = None,
    namespace: NamespaceQuery = None,
    since: _Time = None,
    until: _Time = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> EventsPage:
    """Oldest first. ``since``/``until`` bound the time; ``next_cursor`` continues."""
    return await events.events_page(
        reg,
        types=type or (),
        agent_id=agent_id,
        namespace=namespace,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
