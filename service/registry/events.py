"""The event history: each namespace's capped stream, merged, filtered by type, agent and time."""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from service.errors import InvalidInput
from service.models import Event, EventsPage
from service.registry.context import Registry
from service.registry.pagination import decode_cursor, encode_cursor, page_size
from service.store.records import iso

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
    "auth-denied",
]
_MAX_BATCHES = 10
_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


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


async def events_page(
    reg: Registry,
    *,
    types: Sequence[str] = (),
    agent_id: str | None = None,
    namespace: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> EventsPage:
    """Oldest first. ``since``/``until`` bound the time; ``next_cursor`` continues."""
    size = page_size(limit, reg.settings)
    lo_ms, hi_ms = _stream_ms(since, "since"), _stream_ms(until, "until")
    after = decode_cursor(cursor, 1)
    if after and not _STREAM_ID.match(after[0]):
        # Checked here, not left to Redis: a bad cursor is the caller's error, not a 503.
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor")
    start = f"({after[0]}" if after else (f"{lo_ms}-0" if lo_ms is not None else "-")
    end = f"{hi_ms}-18446744073709551615" if hi_ms is not None else "+"
    names = [namespace] if namespace else await reg.store.namespaces()
    wanted = set(types)
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
