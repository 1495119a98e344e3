"""Version constraints: npm-style (``^1.2``, ``~1.2``, ``1.x``) and PEP 440 (``>=1.2,<2``).

Constraints translate to ``packaging`` specifier sets; ``||`` separates alternatives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["Constraint", "ConstraintError", "parse_constraint"]

_TERM = re.compile(r"(\^|~=|~|>=|<=|>|<|===|==|!=|=)?\s*([0-9A-Za-z.*+-]+)")


class ConstraintError(ValueError):
    """A constraint that cannot be parsed."""


def _parts(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split("-")[0].split("+")[0].split(".")]
    except ValueError:
        raise ConstraintError(f"not a version: {text!r}") from None


def _term(op: str, ver: str) -> list[str]:
    wildcard = [p for p in ver.split(".") if p not in ("x", "X", "*")]
    if len(wildcard) < len(ver.split(".")):  # 1.x, 1.2.* -> a prefix match
        return [f"=={'.'.join(wildcard)}.*"] if wildcard else []
    if op == "^":
        nums = [*_parts(ver), 0, 0]
        bump = next((i for i, n in enumerate(nums[: len(_parts(ver))]) if n), len(_parts(ver)) - 1)
        upper = [*nums[:bump], nums[bump] + 1]
        return [f">={ver}", f"<{'.'.join(map(str, upper))}"]
    if op == "~":
        nums = _parts(ver)
        upper = [nums[0] + 1] if len(nums) == 1 else [nums[0], nums[1] + 1]
        return [f">={ver}", f"<{'.'.join(map(str, upper))}"]
    if op in ("", "="):
        return [f"=={ver}" if ver.count(".") == 2 else f"=={ver}.*"]
    return [f"{op}{ver}"]


class Constraint:
    """A parsed constraint: satisfied when any ``||`` alternative is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._matches: dict[tuple[str, ...], list[str]] = {}
        self.alternatives: list[SpecifierSet] = []
        for alternative in text.split("||"):
            self.alternatives.append(self._parse_alternative(alternative.strip()))

    @staticmethod
    def _parse_alternative(text: str) -> SpecifierSet:
        if text in ("", "*", "x", "latest"):
            return SpecifierSet()
        specs: list[str] = []
        pos = 0
        stripped = text.replace(",", " ")
        for match in _TERM.finditer(stripped):
            if stripped[pos : match.start()].strip():
                break
            specs.extend(_term(match.group(1) or "", match.group(2)))
            pos = match.end()
        if stripped[pos:].strip() or not specs:
            raise ConstraintError(f"cannot parse version constraint {text!r}")
        try:
            return SpecifierSet(",".join(specs))
        except InvalidSpecifier as exc:
            raise ConstraintError(f"invalid version constraint {text!r}: {exc}") from None

    def allows(self, version: str) -> bool:
        """True if ``version`` satisfies the constraint (invalid versions never do)."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            return False
        return any(spec.contains(parsed, prereleases=True) for spec in self.alternatives)

    def matching(self, versions: Iterable[str]) -> list[str]:
        """The versions that satisfy the constraint, in input order (memoised)."""
        key = tuple(versions)
        found = self._matches.get(key)
        if found is None:
            found = self._matches[key] = [v for v in key if self.allows(v)]
        return found

    def __str__(self) -> str:
        return " || ".join(str(s) or "*" for s in self.alternatives)


_cache: dict[str, Constraint] = {}


def parse_constraint(text: str) -> Constraint:
    """Parse (and memoise: thousands of profiles share a handful of constraints)."""
    found = _cache.get(text)
    if found is None:
        found = _cache[text] = Constraint(text)
    return found
