"""Dependency matching: semver constraints, tag operators, ranking and slot resolution.

Pure functions over plain data, so they are unit-tested without Redis or sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from service.models import Dependency, HeartbeatRequest, ResolvedSlot, TagSpec


class ConstraintError(ValueError):
    """A version constraint could not be parsed."""


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


def parse_version(text: str) -> Version:
    """Parse a provider version; raises ``InvalidVersion`` for non-semver text."""
    return _version(text)


@lru_cache(maxsize=4096)
def _version(text: str) -> Version:
    return Version(text)


@lru_cache(maxsize=4096)
def parse_constraint(text: str | None) -> SpecifierSet | None:
    """Turn ``>=1.2,<2``, ``^1.2``, ``~1.2``, ``1.2.3`` or ``*`` into a specifier set.

    ``None`` means "any version". npm-style caret and tilde ranges are translated to the
    equivalent PEP 440 bounds so one real library does the comparing.
    """
    if text is None or text.strip() in ("", "*", "x", "latest"):
        return None
    parts: list[str] = []
    for raw in text.replace(" ", ",").split(","):
        part = raw.strip()
        if not part:
            continue
        if part.startswith("^"):
            parts.extend(_caret(part[1:]))
        elif part.startswith("~") and not part.startswith("~="):
            parts.extend(_tilde(part[1:]))
        elif part[0].isdigit():
            parts.append(f"=={part}")
        else:
            parts.append(part)
    try:
        return SpecifierSet(",".join(parts))
    except InvalidSpecifier as exc:
        raise ConstraintError(f"invalid version constraint {text!r}") from exc


def _release(text: str) -> tuple[int, ...]:
    try:
        release = Version(text).release
    except InvalidVersion as exc:
        raise ConstraintError(f"invalid version {text!r} in constraint") from exc
    return release


def _caret(text: str) -> list[str]:
    rel = _release(text)
    # ^ allows changes that do not modify the left-most non-zero component.
    idx = next((i for i, n in enumerate(rel) if n != 0), len(rel) - 1)
    upper = [*rel[:idx], rel[idx] + 1]
    return [f">={text}", f"<{'.'.join(map(str, upper))}"]


def _tilde(text: str) -> list[str]:
    rel = _release(text)
    # ~1.2.3 and ~1.2 allow patch changes; ~1 allows minor changes.
    upper = [rel[0] + 1] if len(rel) == 1 else [rel[0], rel[1] + 1]
    return [f">={text}", f"<{'.'.join(map(str, upper))}"]


def version_matches(version: str, constraint: SpecifierSet | None) -> bool:
    """True when ``version`` satisfies ``constraint`` (an invalid version only matches "any")."""
    if constraint is None:
        return True
    try:
        return constraint.contains(_version(version), prereleases=True)
    except InvalidVersion:
        return False


def tag_score(tags: Iterable[str], spec: TagSpec) -> int | None:
    """Score a provider's tags against a dependency's tag spec; ``None`` means rejected.

    A plain tag is required, ``+tag`` is preferred (+1 each), ``-tag`` excludes, and a
    nested list is an OR group: at least one of its tags must be present.
    """
    have = set(tags)
    score = 0
    for item in spec:
        if isinstance(item, list):
            if not any(t.lstrip("+") in have for t in item):
                return None
        elif item.startswith("-"):
            if item[1:] in have:
                return None
        elif item.startswith("+"):
            score += item[1:] in have
        elif item not in have:
            return None
    return score


def _rank_key(score: int, entry: ProviderEntry) -> tuple[int, Any, str, str]:
    try:
        version: Any = _version(entry.version)
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
    scored: list[tuple[tuple[int, Any, str, str], Candidate]] = []
    for cand in candidates:
        entry = cand.entry
        if entry.capability != dep.capability or entry.namespace != want_ns:
            continue
        if not version_matches(entry.version, constraint):
            continue
        score = tag_score(entry.tags, dep.tags)
        if score is None:
            continue
        scored.append((_rank_key(score, entry), cand))
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
