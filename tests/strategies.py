"""Hypothesis strategies for the wire models: only values the edge accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from service.models import (
    AGENT_ID_PATTERN,
    CAPABILITY_PATTERN,
    CONSTRAINT_PATTERN,
    NAMESPACE_PATTERN,
    VERSION_PATTERN,
)


def _pattern(regex: str, max_size: int) -> st.SearchStrategy[str]:
    return st.from_regex(regex).filter(lambda s: 0 < len(s) <= max_size)


agent_ids = _pattern(AGENT_ID_PATTERN, 64)
namespaces = _pattern(NAMESPACE_PATTERN, 63)
capabilities = _pattern(CAPABILITY_PATTERN, 128)
versions = st.from_regex(VERSION_PATTERN).filter(lambda s: len(s) <= 64)
constraints = st.from_regex(CONSTRAINT_PATTERN).filter(lambda s: len(s) <= 128)
tags = st.text(min_size=1, max_size=16)
#: Free-form JSON (kwargs, schemas): nested, but well inside the depth and size bounds.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
free_form = st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4)
tag_items = st.lists(tags | st.lists(tags, min_size=1, max_size=3), max_size=4)


@st.composite
def dependencies(draw: st.DrawFn) -> dict[str, Any]:
    """One dependency object as an agent sends it."""
    dep: dict[str, Any] = {"capability": draw(capabilities), "tags": draw(tag_items)}
    if draw(st.booleans()):
        dep["version"] = draw(constraints)
    if draw(st.booleans()):
        dep["namespace"] = draw(namespaces)
    dep["required"] = draw(st.booleans())
    return dep


@st.composite
def tools(draw: st.DrawFn, function_name: str) -> dict[str, Any]:
    """One tool object with its free-form fields."""
    return {
        "function_name": function_name,
        "capability": draw(capabilities),
        "version": draw(versions),
        "tags": draw(st.lists(tags, max_size=4)),
        "description": draw(st.text(max_size=32)),
        "inputSchema": draw(free_form),
        "kwargs": draw(free_form),
        "dependencies": draw(st.lists(dependencies(), max_size=3)),
    }


@st.composite
def heartbeats(draw: st.DrawFn, namespace: str | None = None) -> dict[str, Any]:
    """A heartbeat body the registry must accept, store, read back and list."""
    names = draw(st.lists(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), max_size=3, unique=True))
    return {
        "agent_id": draw(agent_ids),
        "name": draw(st.text(min_size=1, max_size=24)),
        "version": draw(versions),
        "http_host": "127.0.0.1",
        "http_port": draw(st.integers(0, 65535)),
        "namespace": namespace or draw(namespaces),
        "tools": [draw(tools(n)) for n in names],
    }
