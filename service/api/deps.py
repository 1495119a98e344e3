"""Shared request helpers: the per-app registry context, JSON decoding and pagination."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar.datastructures import State

from service.bundle import Bundle
from service.errors import InvalidInput
from service.fleet_config import FleetConfig
from service.profiles import Profiles
from service.settings import Settings
from service.store.store import Store

T = TypeVar("T")
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`")
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


@dataclass(slots=True)
class Registry:
    """What every handler needs, kept on ``app.state.registry``."""

    settings: Settings
    store: Store
    profiles: Profiles
    started: float
    bundle: Bundle | None = None
    # The fleet-active config (None without a baked bundle); ``bundle`` follows its active.
    fleet: FleetConfig | None = None

    @staticmethod
    def of(state: State) -> Registry:
        """The registry context stored on the app state."""
        reg: Registry = state.registry
        return reg


def decode_json(raw: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    """Decode and validate a body; errors become 422/400 problems naming the field."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        match = _PATH.search(msg)
        field = _field(match.group("path")) if match else None
        detail = msg[: match.start()] if match else msg
        missing = _MISSING.search(detail)
        if missing:
            # Name the missing field itself, not the object that lacks it.
            parent = "" if field in (None, "body") else f"{field}."
            field = f"{parent}{missing.group('name')}"
        raise InvalidInput(f"{field}: {detail}" if field else detail, field=field) from None
    except msgspec.DecodeError as exc:
        err = InvalidInput(f"malformed JSON: {exc}", field="body")
        err.status_code = 400
        raise err from None


def _field(path: str) -> str:
    # msgspec reports "$.tools[0].capability"; problem bodies use "tools[0].capability".
    return path.lstrip(".") or "body"


def now_ms() -> int:
    """This replica's wall clock in ms (only for record timestamps, never for health)."""
    return time.time_ns() // 1_000_000


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


def json_body(value: Any) -> bytes:
    """Encode a response body once (also used to compute ETags)."""
    return msgspec.json.encode(value)
