"""``GET /events``: the capped event history, filtered by type, agent and time."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from service.models import AGENT_ID_PATTERN, EventsPage
from service.registry import events
from service.registry.follow import event_cursor, long_poll

from .capabilities import parse_wait
from .params import (
    EventCursorQuery,
    EventTypesQuery,
    LimitQuery,
    NamespaceQuery,
    TimeQuery,
    WaitQuery,
)
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
    follow: Annotated[
        bool,
        QueryParameter(
            description="Long-poll: wait (up to `wait`, default 30s, at most 60s) for events "
            "after `cursor`; `next_cursor` is then always set, so loop on it to follow"
        ),
    ] = False,
    wait: WaitQuery = None,
) -> EventsPage:
    """Oldest first. ``since``/``until`` bound the time; ``next_cursor`` continues."""

    async def read(after: str | None) -> EventsPage:
        return await events.events_page(
            reg,
            types=type or (),
            agent_id=agent_id,
            namespace=namespace,
            since=since if after is None else None,
            until=until,
            limit=limit,
            cursor=after,
        )

    cap = reg.settings.max_wait
    seconds = parse_wait(wait, cap) if wait is not None else min(30.0, cap)  # 422 if bad
    if not follow:
        return await read(cursor)
    return await long_poll(read, cursor, seconds, event_cursor)
