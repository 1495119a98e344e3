"""A fast, conservative pre-check for JSON Schemas: compiled into plain Python closures.

``jsonschema`` spends ~0.6 ms per profile payload, most of it in generic dispatch and
``$ref`` lookups; this check takes a few microseconds. It is **sound, not complete**: when it
returns True the instance is valid; when it returns False (an error, or a case it does not
model exactly, such as ``1 == 1.0``) the caller asks ``jsonschema`` for the authoritative
answer and its error messages. A schema using a keyword not modelled here is not compiled
at all, so ``jsonschema`` alone decides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from referencing import Registry

__all__ = ["Unsupported", "compile_schema"]

Check = Callable[[Any], bool]
# Keywords that never affect validity (annotations) or are handled by their parent.
_IGNORED = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "contentMediaType",
        "contentEncoding",
    }
)
_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),  # 1.0 -> unsure
}


_SIZES: dict[str, tuple[type[Any], bool]] = {
    "minItems": (list, True),
    "maxItems": (list, False),
    "minProperties": (dict, True),
    "maxProperties": (dict, False),
    "minLength": (str, True),
    "maxLength": (str, False),
}


class Unsupported(Exception):
    """The schema uses a keyword this module does not model."""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same_scalar(a: Any, b: Any) -> bool:
    # Strict: 1 vs 1.0 (equal in JSON Schema) answers False, which only means "ask jsonschema".
    return type(a) is type(b) and a == b and not isinstance(a, (dict, list))


class _Compiler:
    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry
        self.memo: dict[int, Check] = {}

    def compile(self, schema: Any, resolver: Any) -> Check:
        if schema is True:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        # A given dict always sits in one document, so its identity is a sufficient key.
        key = id(schema)
        if key in self.memo:
            return self.memo[key]
        slot: list[Check] = []
        self.memo[key] = lambda x: slot[0](x)  # a recursive $ref sees this trampoline
        found = [
            self._keyword(k, v, schema, resolver) for k, v in schema.items() if k not in _IGNORED
        ]
        check = _all_of(tuple(c for c in found if c is not None))
        slot.append(check)
        self.memo[key] = check
        return check

    def _keyword(self, kw: str, v: Any, schema: dict[str, Any], resolver: Any) -> Check | None:
        if kw.startswith("x-"):
            return None
        if kw == "$ref":
            resolved = resolver.lookup(v)
            return self.compile(resolved.contents, resolved.resolver)
        if kw == "type":
            names = [v] if isinstance(v, str) else list(v)
            tests = tuple(_TYPES[n] for n in names)
            return tests[0] if len(tests) == 1 else lambda x: any(t(x) for t in tests)
        if kw == "properties":
            subs = tuple((name, self.compile(s, resolver)) for name, s in v.items())
            return functools.partial(_properties, subs)
        if kw == "additionalProperties":
            known = frozenset(schema.get("properties", {}))
            patterns = tuple(re.compile(p) for p in schema.get("patternProperties", {}))
            extra = self.compile(v, resolver)
            return functools.partial(_additional, known, patterns, extra)
        if kw == "patternProperties":
            pats = [(re.compile(p), self.compile(s, resolver)) for p, s in v.items()]
            return lambda x: (
                not isinstance(x, dict)
                or all(sub(val) for k, val in x.items() for p, sub in pats if p.search(k))
            )
        if kw == "propertyNames":
            sub = self.compile(v, resolver)
            return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)
        if kw == "required":
            required = frozenset(v)
            return lambda x: not isinstance(x, dict) or required.issubset(x.keys())
        if kw == "items":
            sub = self.compile(v, resolver)
            start = len(schema.get("prefixItems", ()))
            return functools.partial(_items, sub, start)
        if kw == "prefixItems":
            prefix = [self.compile(s, resolver) for s in v]
            return lambda x: (
                not isinstance(x, list) or all(s(i) for s, i in zip(prefix, x, strict=False))
            )
        if kw == "uniqueItems":
            if not v:
                return None
            # Hashable scalars of one type only; anything else is "unsure".
            return lambda x: (
                not isinstance(x, list)
                or (all(isinstance(i, str) for i in x) and len(set(x)) == len(x))
            )
        if kw in _SIZES:
            kind, low = _SIZES[kw]
            return lambda x: not isinstance(x, kind) or (len(x) >= v if low else len(x) <= v)
        if kw == "pattern":
            regex = re.compile(v)
            return lambda x: not isinstance(x, str) or regex.search(x) is not None
        if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            op: Callable[[Any], bool] = {
                "minimum": lambda x: x >= v,
                "maximum": lambda x: x <= v,
                "exclusiveMinimum": lambda x: x > v,
                "exclusiveMaximum": lambda x: x < v,
            }[kw]
            return lambda x: not _is_number(x) or op(x)
        if kw == "const":
            return lambda x: _same_scalar(x, v)
        if kw == "enum":
            return lambda x: any(_same_scalar(x, e) for e in v)
        # Only monotone combinators keep "True means valid" sound; oneOf and not do not.
        if kw in ("anyOf", "allOf"):
            parts = [self.compile(s, resolver) for s in v]
            if kw == "anyOf":
                return lambda x: any(p(x) for p in parts)
            return lambda x: all(p(x) for p in parts)
        raise Unsupported(kw)


# The hot checks are plain loops over tuples rather than all() over generator expressions:
# a payload passes through thousands of them, and a generator costs more than the test.
def _all_of(checks: tuple[Check, ...]) -> Check:
    if not checks:
        return lambda x: True
    if len(checks) == 1:
        return checks[0]

    def check(x: Any) -> bool:
        for c in checks:  # noqa: SIM110 (a loop, not all(): see above)
            if not c(x):
                return False
        return True

    return check


def _properties(subs: tuple[tuple[str, Check], ...], x: Any) -> bool:
    if isinstance(x, dict):
        for name, sub in subs:
            if name in x and not sub(x[name]):
                return False
    return True


def _additional(
    known: frozenset[str], patterns: tuple[re.Pattern[str], ...], extra: Check, x: Any
) -> bool:
    if isinstance(x, dict):
        for k, val in x.items():
            if k not in known and not any(p.search(k) for p in patterns) and not extra(val):
                return False
    return True


def _items(sub: Check, start: int, x: Any) -> bool:
    if isinstance(x, list):
        for item in x[start:] if start else x:
            if not sub(item):
                return False
    return True


def compile_schema(schema: dict[str, Any], registry: Registry[Any]) -> Check:
    """Compile ``schema`` (refs resolved through ``registry``); raises ``Unsupported``."""
    resolver = registry.resolver(base_uri=str(schema.get("$id", "")))
    return _Compiler(registry).compile(schema, resolver)
