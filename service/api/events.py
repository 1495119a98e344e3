"""``GET /events``: the capped event history, filtered by type, agent and time."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from service.models import AGENT_ID_PATTERN, EventsPage
from service.registry import events

from .params import EventCursorQuery, EventTypesQuery, LimitQuery, NamespaceQuery, TimeQuery
from .wiring import Reg, get, problems


@get(
    "/events", summary="Registry event history", tags=["events"], responses=problems(400, 422, 503)
)
async def list_events(
    reg: Reg,
    type: EventTypesQuery = None,
    agent_id: Annotated[
        str | None,
        QueryParameter(pattern=AGENT_ID_PATTERN, max_length=64, description="Only this agent"),
    ] = None,
    namespace: NamespaceQuery = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: LimitQuery = None,
    cursor: EventCursorQuery = None,
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
