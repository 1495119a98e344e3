"""Typed environment-variable substitution: ``${env("NAME", type="int", default=3)}``.

In values files a string holding exactly one ``${env(...)}`` becomes the typed value; a
string with text around it gets the value interpolated as text. Templates call the same
function directly: ``{{ env("NAME", type="int", default=3) }}``. Arguments must be literals.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MISSING", "TYPES", "EnvError", "convert", "lookup", "substitute_string"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvError(Exception):
    """An ``env()`` lookup failed; ``code`` is env-missing, env-type or env-syntax."""

    def __init__(self, code: str, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.variable = variable


def _to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _to_json(raw: str) -> Any:
    return json.loads(raw)


def _to_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


TYPES: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _to_bool,
    "json": _to_json,
    "list": _to_list,
}
_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
}


def convert(name: str, raw: str, type_: str) -> Any:
    """Convert the raw text of variable ``name`` to ``type_`` or raise ``EnvError``."""
    try:
        return TYPES[type_](raw)
    except (ValueError, json.JSONDecodeError):
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise EnvError(
            "env-type",
            f"environment variable {name}={shown!r} is not a valid {type_}",
            variable=name,
        ) from None


def lookup(
    name: str, type_: str = "str", default: Any = MISSING, *, environ: Mapping[str, str]
) -> Any:
    """Read ``name`` from ``environ`` as ``type_``; the default applies when it is unset."""
    if type_ not in TYPES:
        known = ", ".join(TYPES)
        raise EnvError("env-syntax", f"env({name!r}): unknown type {type_!r} (use {known})")
    if name not in environ:
        if default is MISSING:
            raise EnvError(
                "env-missing", f"required environment variable {name} is not set", variable=name
            )
        allowed = _DEFAULT_TYPES.get(type_)
        bad_bool = type_ in ("int", "float") and isinstance(default, bool)
        if default is not None and allowed and (not isinstance(default, allowed) or bad_bool):
            raise EnvError(
                "env-type", f"env({name!r}): default {default!r} is not a {type_}", variable=name
            )
        return default
    return convert(name, environ[name], type_)


def _parse_call(expr: str) -> tuple[str, str, Any]:
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise EnvError("env-syntax", f"cannot parse ${{{expr}}}") from None
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "env"
    ):
        raise EnvError("env-syntax", f"${{{expr}}} is not an env(...) call")
    try:
        args = [ast.literal_eval(arg) for arg in node.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    except ValueError:
        raise EnvError("env-syntax", f"${{{expr}}}: arguments must be literals") from None
    if len(args) != 1 or not isinstance(args[0], str) or set(kwargs) - {"type", "default"}:
        raise EnvError("env-syntax", f'${{{expr}}}: use env("NAME", type="int", default=...)')
    type_ = kwargs.get("type", "str")
    if not isinstance(type_, str):
        raise EnvError("env-syntax", f"${{{expr}}}: type must be a string")
    return args[0], type_, kwargs.get("default", MISSING)


def _find_end(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` at ``start``, skipping quoted strings."""
    quote: str | None = None
    i = start + 2
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "}":
            return i
        i += 1
    raise EnvError("env-syntax", f"unterminated ${{ in {text!r}")


def substitute_string(text: str, environ: Mapping[str, str]) -> Any:
    """Expand every ``${env(...)}`` in ``text``; a lone expression keeps its type."""
    if "${" not in text:
        return text
    parts: list[Any] = []
    pos = 0
    while (start := text.find("${", pos)) != -1:
        end = _find_end(text, start)
        parts.append(text[pos:start])
        name, type_, default = _parse_call(text[start + 2 : end])
        parts.append(lookup(name, type_, default, environ=environ))
        pos = end + 1
    parts.append(text[pos:])
    if len(parts) == 3 and parts[0] == "" and parts[2] == "":
        return parts[1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
