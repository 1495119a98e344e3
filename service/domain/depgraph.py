"""The one cycle rule: cycles of *required* dependencies between capabilities.

A dependency with ``required: false`` is never an edge, so it never makes a cycle: an agent
can start without it. The build (``buildtime.depcheck``) and the admin API
(``service.domain.catalog``) both build this graph, with :func:`requires` choosing the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Graph", "requires"]


def requires(dep: Mapping[str, Any]) -> bool:
    """Is ``dep`` an edge of the cycle rule? Only required dependencies (the default) are."""
    return bool(dep.get("required", True))


@dataclass
class Graph:
    """Required-dependency edges between capabilities, each with where it was declared."""

    edges: dict[str, list[str]] = field(default_factory=dict)
    origin: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def add(self, a: str, b: str, file: str, pointer: str) -> None:
        """``a`` requires ``b``, declared at ``file`` ``pointer``; the first declaration wins."""
        if (a, b) not in self.origin:
            self.edges.setdefault(a, []).append(b)
            self.origin[(a, b)] = (file, pointer)

    def update(self, other: Graph) -> None:
        """Add ``other``'s edges in the order they were first added there."""
        for (a, b), (file, pointer) in other.origin.items():
            self.add(a, b, file, pointer)

    def cycles(self) -> list[list[str]]:
        """One path per distinct cycle, found by iterative DFS (chains may be long)."""
        state: dict[str, int] = {}  # 1 on the stack, 2 done
        found: dict[frozenset[str], list[str]] = {}
        for start in sorted(self.edges):
            if state.get(start):
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = [start]
            state[start] = 1
            while stack:
                node, i = stack[-1]
                targets = self.edges.get(node, [])
                if i == len(targets):
                    stack.pop()
                    path.pop()
                    state[node] = 2
                    continue
                stack[-1] = (node, i + 1)
                nxt = targets[i]
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    found.setdefault(frozenset(cycle), cycle)
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
        return list(found.values())

    def cycle_through(self, start: str) -> list[str] | None:
        """A path from ``start`` back to ``start`` (iterative DFS), or ``None``."""
        seen: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        while stack:
            node, i = stack[-1]
            targets = self.edges.get(node, [])
            if i == len(targets):
                stack.pop()
                path.pop()
                continue
            stack[-1] = (node, i + 1)
            nxt = targets[i]
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, 0))
                path.append(nxt)
        return None
