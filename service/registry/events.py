"""The event history: each namespace's capped stream, merged, filtered by type, agent and time."""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal

from service.errors import InvalidInput
from service.models import END, Event, EventsPage
from service.registry.context import Registry
from service.registry.pagination import page_size
from service.store.records import iso

EventType = Literal[
    "register",
    "update",
    "degraded",
    "recover",
    "expire",
    "protect",
    "suspect",
    "unprotect",
    "unregister",
    "purge",
    "assign",
    "assignment-lost",
    "drift",
    "auth-denied",
    "corrupt",
    "restart",
    "rollout",
]
_MAX_BATCHES = 10
#: An event id (a Redis stream id): the events' ``next_cursor``, and any such id continues
#: after it. At most 19 digits each, so it is always a valid stream id (< 2**64).
EVENT_CURSOR_PATTERN = r"^[0-9]{1,19}-[0-9]{1,19}" + END
_STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}\Z")
#: ``since``/``until`` as epoch milliseconds (the other form is an RFC 3339 date-time).
TIME_DIGITS_PATTERN = r"^[0-9]{1,15}" + END
_DIGITS = re.compile(r"[0-9]{1,15}\Z")
_RFC3339 = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?P<f>\.[0-9]+)?"
    r"(?P<z>[Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def _stream_ms(text: str | None, name: str) -> int | None:
    """Epoch milliseconds or an RFC 3339 date-time; earlier than 1970 counts as 0."""
    if text is None:
        return None
    if _DIGITS.match(text):
        return int(text)
    m = _RFC3339.match(text)
    if m is None:
        raise InvalidInput(f"{name}: use epoch ms or an RFC 3339 timestamp", field=name)
    z = m["z"].upper()
    offset = 0 if z == "Z" else (1 if z[0] == "+" else -1) * (int(z[1:3]) * 60 + int(z[4:6]))
    try:
        if int(m["y"]) == 0:
            return 0  # year 0 is valid RFC 3339, not a Python datetime: long before 1970
        dt = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"]),
            int(m["mi"]),
            min(int(m["s"]), 59),  # a leap second counts as the second before it
            int((m["f"] or ".0")[1:7].ljust(6, "0")),
            tzinfo=timezone(timedelta(minutes=offset)),
        )
    except ValueError:
        raise InvalidInput(f"{name}: not a valid date-time", field=name) from None
    return max(0, int(dt.timestamp() * 1000))


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
    if cursor is not None and not _STREAM_ID.match(cursor):
        # Checked here, not left to Redis: a bad cursor is the caller's error, not a 503.
        raise InvalidInput("cursor: not an event id returned by this API", field="cursor")
    start = f"({cursor}" if cursor is not None else (f"{lo_ms}-0" if lo_ms is not None else "-")
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
                return EventsPage(events=out, count=size, next_cursor=row.id)
        start = f"({last_seen}"
    return EventsPage(events=out, count=len(out), next_cursor=last_seen)
