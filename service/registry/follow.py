"""Following the event history: a long-poll with a cursor, or a Server-Sent Events stream.

Both sit on top of one page read, ``read(cursor) -> EventsPage`` (the query behind
``GET /events`` with its filters bound), so they filter and paginate exactly like it:

- :func:`long_poll` answers at once when events follow ``cursor``, else waits up to
  ``wait`` seconds for some; an empty answer carries ``cursor`` back as ``next_cursor``,
  so a client loops ``cursor = page.next_cursor`` and never misses or repeats an event.
- :func:`sse` is an endless ``text/event-stream``: one ``registry-event`` message per
  event, the resume cursor as the message ``id`` (browsers send it back as
  ``Last-Event-ID`` when they reconnect), a comment line as keep-alive. A stream ends
  after ``max_seconds`` (so a replica's graceful shutdown is never held open for long);
  ``EventSource`` reconnects by itself and resumes from the last id.

Polling costs one bounded XRANGE per namespace every ``every`` seconds per follower; the
event stream is capped, so it never grows with the registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec

from service.models import Event, EventsPage

ReadPage = Callable[[str | None], Awaitable[EventsPage]]
# The cursor that continues after one event. ``GET /events`` gives no ``next_cursor`` on
# its last page, so a follower builds the resume point from the last event it got.
CursorOf = Callable[[Event], str]
MAX_WAIT_S = 60.0
POLL_EVERY_S = 0.25
_encode = msgspec.json.encode


def event_cursor(event: Event) -> str:
    """The ``GET /events`` cursor that continues after ``event``."""
    return event.id


def resume_cursor(page: EventsPage, cursor: str | None, cursor_of: CursorOf) -> str | None:
    """Where a follower continues after ``page``: never ``None`` once it has seen an event."""
    if page.next_cursor:
        return page.next_cursor
    return cursor_of(page.events[-1]) if page.events else cursor


async def long_poll(
    read: ReadPage,
    cursor: str | None,
    wait: float,
    cursor_of: CursorOf,
    *,
    every: float = POLL_EVERY_S,
) -> EventsPage:
    """The events after ``cursor``, waiting up to ``wait`` seconds (capped) for the first."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_S)
    while True:
        page = await read(cursor)
        if page.events:
            return msgspec.structs.replace(page, next_cursor=resume_cursor(page, cursor, cursor_of))
        if time.monotonic() >= deadline:
            # Nothing new: hand the same cursor back, never None (that would restart).
            return msgspec.structs.replace(page, next_cursor=page.next_cursor or cursor)
        await asyncio.sleep(every)


def sse_message(data: bytes, *, event: str, ident: str | None = None) -> bytes:
    """One Server-Sent Events message (``data`` is one line of JSON)."""
    head = f"id: {ident}\n" if ident else ""
    return f"{head}event: {event}\n".encode() + b"data: " + data + b"\n\n"


async def sse(
    read: ReadPage,
    cursor: str | None,
    cursor_of: CursorOf,
    *,
    every: float = 0.5,
    keepalive: float = 15.0,
    max_seconds: float = 300.0,
) -> AsyncIterator[bytes]:
    """A Server-Sent Events stream of the events after ``cursor`` (see the module doc)."""
    yield b"retry: 2000\n\n"  # the browser's reconnect delay, in ms
    started = last_sent = time.monotonic()
    while time.monotonic() - started < max_seconds:
        page = await read(cursor)
        # Advance even past a batch the filters dropped entirely.
        cursor = resume_cursor(page, cursor, cursor_of)
        for i, event in enumerate(page.events):
            last = i == len(page.events) - 1
            # Only the last message of a batch carries the resume cursor: a reconnect
            # mid-batch replays that batch, and clients drop repeats by event id.
            ident = cursor if last else None
            yield sse_message(_encode(event), event="registry-event", ident=ident)
        if page.events:
            last_sent = time.monotonic()
            continue
        if time.monotonic() - last_sent >= keepalive:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(every)
