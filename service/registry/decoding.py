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
_INT_AS_FLOAT = "Expected `int`, got `float`"
_MAX_INT_FIXES = 64
_STEP_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
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
        try:
            return decoder.decode(raw)
        except msgspec.ValidationError as exc:
            # JSON has one number type: 8080.0 *is* the integer 8080 (JSON Schema agrees).
            if _INT_AS_FLOAT not in str(exc):
                raise
            return _with_integral_floats(raw, decoder, exc)
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


def _with_integral_floats(
    raw: bytes, decoder: msgspec.json.Decoder[T], exc: msgspec.ValidationError
) -> T:
    """Decode again with each integral float that msgspec refused as an int made an int.

    Only the fields msgspec names are changed (a float inside ``kwargs`` stays a float), one
    at a time, at most :data:`_MAX_INT_FIXES` of them; the error path is rare, never hot.
    """
    doc = msgspec.json.decode(raw)
    for _ in range(_MAX_INT_FIXES):
        match = _PATH.search(str(exc))
        if _INT_AS_FLOAT not in str(exc) or match is None or not _make_int(doc, match["path"]):
            raise exc
        try:
            result: T = msgspec.convert(doc, decoder.type)
        except msgspec.ValidationError as again:
            exc = again
        else:
            return result
    raise exc


def _make_int(doc: object, path: str) -> bool:
    """Replace the integral float at msgspec's ``path`` ("$.tools[0].port") with an int."""
    steps: list[str | int] = [
        int(index) if index else name for name, index in _STEP_RE.findall(path)
    ]
    if not steps:
        return False
    parent = doc
    try:
        for step in steps[:-1]:
            parent = parent[step]  # type: ignore[index]
        value = parent[steps[-1]]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return False
    if not isinstance(value, float) or not value.is_integer():
        return False
    parent[steps[-1]] = int(value)  # type: ignore[index]
    return True


def _field(path: str) -> str:
    # msgspec reports "$.tools[0].capability"; problem bodies use "tools[0].capability".
    return path.lstrip(".") or "body"
