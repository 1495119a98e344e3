"""The one version-constraint grammar, shared by the build and the service.

``docs/matching.md`` defines it with examples. In short: ``||`` separates alternatives; inside
one, terms separated by commas or spaces must all hold. A term is ``*``/``x``/``latest``
(any), npm ``^1.2``/``~1.2``, a PEP 440 comparison (``>=``, ``<=``, ``>``, ``<``, ``==``,
``!=``, ``~=``), a wildcard (``1.x``, ``1.2.*``), a bare partial version (``1.2`` = ``1.2.x``)
or a bare full version (``1.2.3`` = exactly that). Terms compile to ``packaging`` specifier
sets, so one real library does the comparing.

Pre-releases follow npm: a pre-release version matches an alternative only when one of that
alternative's terms names a pre-release of the same release (``>=1.0.0-rc.1`` admits
``1.0.0-rc.2``, not ``1.1.0-rc.1``). No constraint at all admits every version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["Constraint", "ConstraintError", "parse_constraint", "parse_version", "version_matches"]

_ANY = frozenset({"", "*", "x", "X", "latest"})
_WILD = frozenset({"*", "x", "X"})
# An operator (optional) then a version; whitespace may separate the two (`>= 1.2`).
_TERM = re.compile(r"(~=|==|!=|>=|<=|\^|~|>|<|=)?\s*((?:[^\s,|<>=!~^]|!(?=\d))+)")
_CACHE_VERSIONS = 1024  # per constraint: bounded, since provider versions come from clients


class ConstraintError(ValueError):
    """A version constraint could not be parsed."""


def parse_version(text: str) -> Version:
    """Parse a provider version; raises ``InvalidVersion`` for non-version text (memoised)."""
    return _version(text)


@lru_cache(maxsize=4096)
def _version(text: str) -> Version:
    return Version(text)


class _Alternative:
    """One ``||`` alternative: a specifier set plus the releases whose pre-releases it names."""

    __slots__ = ("prereleases", "spec")

    def __init__(self, spec: SpecifierSet, prereleases: frozenset[Version]) -> None:
        self.spec = spec
        self.prereleases = prereleases

    def allows(self, version: Version) -> bool:
        if version.is_prerelease and Version(version.base_version) not in self.prereleases:
            return False
        return self.spec.contains(version, prereleases=True)


class Constraint:
    """A parsed constraint that is not "any": satisfied when one alternative is."""

    __slots__ = ("_allowed", "_matching", "alternatives", "text")

    def __init__(self, text: str, alternatives: tuple[_Alternative, ...]) -> None:
        self.text = text
        self.alternatives = alternatives
        self._allowed: dict[str, bool] = {}
        self._matching: dict[tuple[str, ...], tuple[str, ...]] = {}

    def allows(self, version: str) -> bool:
        """True if ``version`` satisfies the constraint; invalid versions never do."""
        found = self._allowed.get(version)
        if found is None:
            try:
                parsed = _version(version)
            except InvalidVersion:
                found = False
            else:
                found = any(alt.allows(parsed) for alt in self.alternatives)
            if len(self._allowed) < _CACHE_VERSIONS:
                self._allowed[version] = found
        return found

    def matching(self, versions: Iterable[str]) -> tuple[str, ...]:
        """The versions that satisfy the constraint, in input order (memoised per input)."""
        key = tuple(versions)
        found = self._matching.get(key)
        if found is None:
            found = tuple(v for v in key if self.allows(v))
            if len(self._matching) < _CACHE_VERSIONS:
                self._matching[key] = found
        return found

    def __str__(self) -> str:
        return " || ".join(str(alt.spec) for alt in self.alternatives)

    def __repr__(self) -> str:
        return f"Constraint({self.text!r})"


def version_matches(version: str, constraint: Constraint | None) -> bool:
    """True when ``version`` satisfies ``constraint``; ``None`` ("any") admits every version."""
    return constraint is None or constraint.allows(version)


@lru_cache(maxsize=4096)
def parse_constraint(text: str | None) -> Constraint | None:
    """Parse a constraint; ``None`` means "any version". Raises :class:`ConstraintError`.

    Memoised: thousands of profiles and heartbeats share a handful of constraints.
    """
    if text is None or text.strip() in _ANY:
        return None
    alternatives: list[_Alternative] = []
    for raw in text.split("||"):
        alt = _alternative(raw.strip(), text)
        if alt is None:
            return None  # one alternative admits anything, so the whole constraint does
        alternatives.append(alt)
    return Constraint(text, tuple(alternatives))


def _alternative(text: str, whole: str) -> _Alternative | None:
    if not text:
        raise ConstraintError(f"empty alternative in version constraint {whole!r}")
    if text in _ANY:
        return None
    specs: list[str] = []
    pre: set[Version] = set()
    pos = _skip(text, 0)
    while pos < len(text):
        match = _TERM.match(text, pos)
        if match is None:
            raise ConstraintError(f"cannot parse version constraint {whole!r} at {text[pos:]!r}")
        specs.extend(_term(match.group(1) or "", match.group(2), whole, pre))
        pos = _skip(text, match.end())
    if not specs:
        return None
    try:
        return _Alternative(SpecifierSet(",".join(specs)), frozenset(pre))
    except InvalidSpecifier:
        raise ConstraintError(f"invalid version constraint {whole!r}") from None


def _skip(text: str, pos: int) -> int:
    """The position after any separators (commas, whitespace) at ``pos``."""
    while pos < len(text) and (text[pos] == "," or text[pos].isspace()):
        pos += 1
    return pos


def _term(op: str, ver: str, whole: str, pre: set[Version]) -> list[str]:
    """PEP 440 specifiers for one term; records a named pre-release's release in ``pre``."""
    parts = ver.split(".")
    wild = [i for i, p in enumerate(parts) if p in _WILD]
    if wild:
        if wild != list(range(wild[0], len(parts))):
            raise ConstraintError(f"a wildcard must end the version in {whole!r}")
        if op not in ("", "=", "==", "!=", "^", "~"):
            raise ConstraintError(f"{op}{ver}: wildcards only go with =, ==, !=, ^ or ~")
        parts = parts[: wild[0]]
        if not parts:
            if op:
                raise ConstraintError(f"{op}{ver}: an operator needs a version in {whole!r}")
            return []  # `*`, `x.x`: any
        if op in ("^", "~"):
            return _bounded(op, ".".join(parts), whole, pre)
        return [f"{'!=' if op == '!=' else '=='}{'.'.join(_numbers(parts, whole))}.*"]
    if op in ("^", "~"):
        return _bounded(op, ver, whole, pre)
    version = _parse(ver, whole)
    if version.is_prerelease:
        pre.add(Version(version.base_version))
    if op in ("", "="):
        # npm: a partial version is a range (1.2 = 1.2.x), a full one is exact.
        if len(version.release) < 3 and str(version) == version.base_version:
            return [f"=={version}.*"]
        return [f"=={version}"]
    return [f"{op}{version}" if op != "~=" else f"~={ver}"]


def _bounded(op: str, ver: str, whole: str, pre: set[Version]) -> list[str]:
    """npm ``^`` (same left-most non-zero part) and ``~`` (same minor; ``~1`` same major)."""
    version = _parse(ver, whole)
    if version.is_prerelease:
        pre.add(Version(version.base_version))
    rel = version.release
    if op == "^":
        idx = next((i for i, n in enumerate(rel) if n != 0), len(rel) - 1)
    else:
        idx = 0 if len(rel) == 1 else 1
    upper = ".".join(map(str, [*rel[:idx], rel[idx] + 1]))
    return [f">={version}", f"<{upper}"]


def _parse(ver: str, whole: str) -> Version:
    try:
        return _version(ver)
    except InvalidVersion:
        raise ConstraintError(f"invalid version {ver!r} in constraint {whole!r}") from None


def _numbers(parts: list[str], whole: str) -> list[str]:
    if not all(p.isdigit() for p in parts):
        raise ConstraintError(f"invalid version {'.'.join(parts)!r} in constraint {whole!r}")
    return parts
