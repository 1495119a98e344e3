"""Opaque cursors and page sizes shared by every listing."""

from __future__ import annotations

import base64
import re

from service.errors import InvalidInput
from service.models import END
from service.settings import Settings

#: What a cursor looks like (URL-safe base64 without padding), as the OpenAPI document says.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*" + END
_CURSOR = re.compile(r"[A-Za-z0-9_-]*\Z")


def page_size(limit: int | None, settings: Settings) -> int:
    """The requested page size, capped at ``REGISTRY_MAX_PAGE_SIZE`` (a larger ``limit`` is
    not an error: the page is just as long as allowed); below 1 is a 422 naming ``limit``."""
    if limit is None:
        return settings.page_size
    if limit < 1:
        raise InvalidInput("limit: must be at least 1", field="limit")
    return min(limit, settings.max_page_size)


def encode_cursor(*parts: str) -> str:
    """An opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, n: int) -> list[str] | None:
    """Inverse of :func:`encode_cursor`: the ``n`` sort-key parts to continue after.

    A cursor is a position ("after this key"), so any string of the documented alphabet is
    one: the listing simply continues after whatever key it spells. Anything else is a 422
    naming ``cursor``.
    """
    if not cursor:
        return None
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor")
    if len(cursor) % 4 == 1:
        cursor = cursor[:-1]  # no base64 text has this length: the last sextet is noise
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode(errors="replace")
    parts = raw.split("\x1f", n - 1)
    return parts + [""] * (n - len(parts))
