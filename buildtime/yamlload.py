"""Fast YAML loading for rendered templates: libyaml composes, a small builder constructs.

PyYAML's Python constructor is the slowest step of a large build; most scalars in rendered
profiles are plain strings, which need no construction at all. Documents using merge keys
(``<<``) or explicit tags fall back to the full safe loader, so results are identical.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["load_yaml"]

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "timestamp", "binary")
)
_constructor = yaml.constructor.SafeConstructor()
_CACHE_LIMIT = 200_000


class _Loader(_BaseLoader):
    """Memoises implicit tag resolution: libyaml calls back into Python for every node."""

    # A plain scalar's tag depends on its text alone (no path resolvers are registered),
    # and any other scalar is a string: see yaml.resolver.BaseResolver.resolve.
    _plain: dict[str, str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return _MAP if kind is MappingNode else _SEQ
        if not implicit[0]:
            return _STR
        tag = self._plain.get(value)
        if tag is None:
            if len(self._plain) > _CACHE_LIMIT:
                self._plain.clear()
            tag = self._plain[value] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


class _Fallback(Exception):
    pass


# Constructed non-string scalars (ints, floats, booleans, nulls, timestamps, bytes) by tag and
# text: they are immutable, few distinct values recur across thousands of payloads, and
# PyYAML's constructor is slow Python.
_scalars: dict[tuple[str, str], Any] = {}


def _scalar(node: Node) -> Any:
    key = (node.tag, node.value)
    try:
        return _scalars[key]
    except KeyError:
        pass
    value = _constructor.construct_object(node, deep=True)
    _constructor.constructed_objects.clear()  # it would keep every node alive otherwise
    if len(_scalars) > _CACHE_LIMIT:
        _scalars.clear()
    _scalars[key] = value
    return value


def _build(node: Node) -> Any:
    # Scalar children are handled inline: they are most nodes, and a call each adds up.
    cls = node.__class__
    if cls is ScalarNode:
        if node.tag == _STR:
            return node.value
        if node.tag in _SCALARS:
            return _scalar(node)
        raise _Fallback
    if cls is MappingNode and node.tag == _MAP:
        out = {}
        for key, value in node.value:
            if key.__class__ is ScalarNode and key.tag == _STR:
                k = key.value
            else:
                k = _build(key)
                if isinstance(k, (dict, list)) or key.tag == "tag:yaml.org,2002:merge":
                    raise _Fallback
            if value.__class__ is ScalarNode and value.tag == _STR:
                out[k] = value.value
            else:
                out[k] = _build(value)
        return out
    if cls is SequenceNode and node.tag == _SEQ:
        return [
            item.value if item.__class__ is ScalarNode and item.tag == _STR else _build(item)
            for item in node.value
        ]
    raise _Fallback


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, faster; raises ``yaml.YAMLError`` the same way."""
    node = yaml.compose(text, Loader=_Loader)
    if node is None:
        return None
    try:
        return _build(node)
    except _Fallback:
        return yaml.load(text, Loader=_BaseLoader)
