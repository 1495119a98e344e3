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

    _tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return _MAP if kind is MappingNode else _SEQ
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            if len(self._tags) > _CACHE_LIMIT:
                self._tags.clear()
            tag = self._tags[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


class _Fallback(Exception):
    pass


def _build(node: Node) -> Any:
    cls = node.__class__
    if cls is ScalarNode:
        if node.tag == _STR:
            return node.value
        if node.tag in _SCALARS:
            return _constructor.construct_object(node, deep=True)
        raise _Fallback
    if cls is MappingNode and node.tag == _MAP:
        out = {}
        for key, value in node.value:
            k = _build(key)
            if isinstance(k, (dict, list)) or key.tag == "tag:yaml.org,2002:merge":
                raise _Fallback
            out[k] = _build(value)
        return out
    if cls is SequenceNode and node.tag == _SEQ:
        return [_build(item) for item in node.value]
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
