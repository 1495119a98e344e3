"""Opaque cursors and page sizes shared by every listing."""

from __future__ import annotations

import base64

from service.errors import InvalidInput
from service.settings import Settings


def page_size(limit: int | None, settings: Settings) -> int:
    """Clamp a requested page size to the configured default and maximum."""
    if limit is None:
        return settings.page_size
    if limit < 1 or limit > settings.max_page_size:
        raise InvalidInput(f"limit: must be between 1 and {settings.max_page_size}", field="limit")
    return limit


def encode_cursor(*parts: str) -> str:
    """An opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, n: int) -> list[str] | None:
    """Inverse of :func:`encode_cursor`; a malformed cursor is a 422 naming ``cursor``."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor") from None
    parts = raw.split("\x1f")
    if len(parts) != n:
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor")
    return parts
