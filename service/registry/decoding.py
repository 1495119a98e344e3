"""Body decoding for every adapter: one msgspec decoder per type, errors naming the field.

Everything that is accepted here can be stored and read back: the nesting depth is bounded
before msgspec sees the bytes (msgspec itself recurses until Python's limit, and a record
nested that deep could be stored but never decoded again), and every decode failure of any
kind (invalid UTF-8, recursion, bad JSON) is a 4xx problem, never a 500.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import TypeVar

import msgspec

from service.errors import InvalidInput
from service.models import MAX_DEPTH

T = TypeVar("T")
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`")
_REGEX = re.compile(r"matching regex '.{48,}?'(?= - at `|$)")
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")
# A JSON string (escapes included): its content never counts towards nesting.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class MalformedBody(InvalidInput):
    """The body is not JSON at all (400, where a well-formed but invalid one is 422)."""

    status_code = 400
    title = "Malformed body"


def nesting_depth(raw: bytes) -> int:
    """How deeply the JSON text ``raw`` nests arrays and objects (0 for a scalar).

    Cheap for real bodies: when there are fewer brackets than :data:`MAX_DEPTH` in the
    whole text (strings included) the depth cannot exceed it and nothing is scanned.
    """
    opened = raw.count(b"[") + raw.count(b"{")
    if opened <= MAX_DEPTH:
        return opened
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def decode_json(raw: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    """Decode and validate a body; errors become 422/400 problems naming the field."""
    if nesting_depth(raw) > MAX_DEPTH:
        raise InvalidInput(
            f"body: JSON nested deeper than {MAX_DEPTH} levels", field="body"
        ) from None
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # A long pattern says nothing to a caller; the OpenAPI document has it.
        msg = _REGEX.sub("in the documented format (see the OpenAPI schema)", str(exc))
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
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            f"malformed JSON: invalid UTF-8 at byte {exc.start}", field="body"
        ) from None
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise MalformedBody("malformed JSON: nested too deeply", field="body") from None


def _field(path: str) -> str:
    # msgspec reports "$.tools[0].capability"; problem bodies use "tools[0].capability".
    return path.lstrip(".") or "body"
