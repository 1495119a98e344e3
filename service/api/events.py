"""``GET /events``: the capped event history, filtered by type, agent and time."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Annotated, Literal

from litestar import get
from litestar.datastructures import State
from litestar.params import FromQuery, QueryParameter

from service.errors import InvalidInput
from service.models import Event, EventsPage
from service.store.records import iso

from .deps import Registry, decode_cursor, encode_cursor, page_size

EventType = Literal[
    "register",
    "update",
    "degraded",
    "recover",
    "expire",
    "unregister",
    "purge",
    "assign",
    "assignment-lost",
    "drift",
]
_MAX_BATCHES = 10


def _stream_ms(text: str | None, name: str) -> int | None:
    """Accept epoch milliseconds or an RFC 3339 timestamp."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}: use epoch ms or an RFC 3339 timestamp", field=name) from None
    if dt.tzinfo is None:
        raise InvalidInput(f"{name}: the timestamp needs a time zone", field=name)
    return int(dt.timestamp() * 1000)


@get("/events", summary="Registry event history")
async def list_events(
    state: State,
    type_: Annotated[list[EventType] | None, QueryParameter(name="type")] = None,
    agent_id: FromQuery[str | None] = None,
    namespace: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    cursor: FromQuery[str | None] = None,
) -> EventsPage:
    """Oldest first. ``since``/``until`` bound the time; ``next_cursor`` continues."""
    reg = Registry.of(state)
    size = page_size(limit, reg.settings)
    lo_ms, hi_ms = _stream_ms(since, "since"), _stream_ms(until, "until")
    after = decode_cursor(cursor, 1)
    start = f"({after[0]}" if after else (f"{lo_ms}-0" if lo_ms is not None else "-")
    end = f"{hi_ms}-18446744073709551615" if hi_ms is not None else "+"
    names = [namespace] if namespace else await reg.store.namespaces()
    wanted = set(type_ or ())
    out: list[Event] = []
    last_seen: str | None = None
    for _ in range(_MAX_BATCHES):
        batches = [await reg.store.events(ns, start, end, size) for ns in names]
        merged = list(heapq.merge(*batches, key=lambda r: tuple(map(int, r.id.split("-")))))
        if not merged:
            return EventsPage(events=out, count=len(out), next_cursor=None)
        for row in merged[:size]:
            last_seen = row.id
            if wanted and row.fields.get("t") not in wanted:
                continue
            if agent_id and row.fields.get("a") != agent_id:
                continue
            out.append(
                Event(
                    id=row.id,
                    type=row.fields.get("t", ""),
                    agent_id=row.fields.get("a", ""),
                    namespace=row.namespace,
                    timestamp=iso(int(row.id.split("-")[0])),
                    detail=row.fields.get("d", ""),
                )
            )
            if len(out) == size:
                return EventsPage(events=out, count=size, next_cursor=encode_cursor(row.id))
        start = f"({last_seen}"
    cursor_out = encode_cursor(last_seen) if last_seen else None
    return EventsPage(events=out, count=len(out), next_cursor=cursor_out)
