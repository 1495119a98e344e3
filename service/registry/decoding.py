"""Body decoding for every adapter: one msgspec decoder per type, errors naming the field."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from service.errors import InvalidInput

T = TypeVar("T")
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`")
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


class MalformedBody(InvalidInput):
    """The body is not JSON at all (400, where a well-formed but invalid one is 422)."""

    status_code = 400
    title = "Malformed body"


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
        raise MalformedBody(f"malformed JSON: {exc}", field="body") from None


def _field(path: str) -> str:
    # msgspec reports "$.tools[0].capability"; problem bodies use "tools[0].capability".
    return path.lstrip(".") or "body"
