"""Dependency matching: ranking live providers and resolving a heartbeat's slots.

Pure functions over plain data, so they are unit-tested without Redis or sockets. The
version grammar (:mod:`service.domain.constraints`) and the tag rule
(:mod:`service.domain.tags`) are re-exported here; the build imports the same modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from packaging.version import InvalidVersion, Version

from service.domain.constraints import (
    Constraint,
    ConstraintError,
    parse_constraint,
    parse_version,
    version_matches,
)
from service.domain.tags import tag_score, tags_admit
from service.models import Dependency, HeartbeatRequest, ProviderStatus, ResolvedSlot

__all__ = [
    "Candidate",
    "Constraint",
    "ConstraintError",
    "ProviderEntry",
    "parse_constraint",
    "parse_version",
    "rank",
    "resolve",
    "tag_score",
    "tags_admit",
    "version_matches",
]


class ProviderEntry(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    """One function providing a capability, as stored in the capability index.

    ``array_like`` keeps the stored form small: it is kept once per provided capability.
    """

    agent_id: str
    function_name: str
    capability: str
    version: str
    tags: list[str]
    endpoint: str
    namespace: str
    kwargs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A live provider entry plus its health as read from its liveness key."""

    entry: ProviderEntry
    degraded: bool
    #: Expired, but held by mass-expiry protection: offered, marked ``suspect``.
    suspect: bool = False

    @property
    def status(self) -> ProviderStatus:
        """How discovery shows this provider."""
        return "suspect" if self.suspect else "degraded" if self.degraded else "healthy"


def _rank_key(score: int, entry: ProviderEntry) -> tuple[int, Any, str, str]:
    try:
        version: Any = parse_version(entry.version)
    except InvalidVersion:
        version = Version("0")
    # Sorted ascending, so negate what should come first: high score, then high version.
    return (-score, _Neg(version), entry.agent_id, entry.function_name)


class _Neg:
    """Inverts ordering of a comparable value inside a sort key."""

    __slots__ = ("v",)

    def __init__(self, v: Version) -> None:
        self.v = v

    def __lt__(self, other: _Neg) -> bool:
        return self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and self.v == other.v

    __hash__ = None  # type: ignore[assignment]


def rank(dep: Dependency, candidates: Sequence[Candidate], *, namespace: str) -> list[Candidate]:
    """Candidates that satisfy ``dep``, best first (preferred tags, version, agent_id)."""
    constraint = parse_constraint(dep.version)
    want_ns = dep.namespace or namespace
    scored: list[tuple[tuple[bool, int, Any, str, str], Candidate]] = []
    for cand in candidates:
        entry = cand.entry
        if entry.capability != dep.capability or entry.namespace != want_ns:
            continue
        if not version_matches(entry.version, constraint):
            continue
        score = tag_score(entry.tags, dep.tags)
        if score is None:
            continue
        # A provider held by mass-expiry protection only wins when no live one qualifies.
        scored.append(((cand.suspect, *_rank_key(score, entry)), cand))
    scored.sort(key=lambda pair: pair[0])
    return [cand for _, cand in scored]


def resolve(
    request: HeartbeatRequest, candidates: dict[str, list[Candidate]]
) -> dict[str, list[ResolvedSlot]]:
    """Build ``dependencies_resolved``: one ordered slot list per function with dependencies."""
    out: dict[str, list[ResolvedSlot]] = {}
    for tool in request.tools:
        if not tool.dependencies:
            continue
        slots: list[ResolvedSlot] = []
        for dep in tool.dependencies:
            ranked = rank(dep, candidates.get(dep.capability, ()), namespace=request.namespace)
            if ranked:
                best = ranked[0].entry
                slots.append(
                    ResolvedSlot(
                        agent_id=best.agent_id,
                        capability=best.capability,
                        endpoint=best.endpoint,
                        function_name=best.function_name,
                        status="available",
                        kwargs=best.kwargs or {},
                        suspect=ranked[0].suspect,
                    )
                )
            else:
                slots.append(
                    ResolvedSlot(
                        agent_id="",
                        capability=dep.capability,
                        endpoint="",
                        function_name="",
                        status="unresolved",
                    )
                )
        out[tool.function_name] = slots
    return out
