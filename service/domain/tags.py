"""The one tag-spec rule, shared by dependency matching and the list filters.

A spec is a list of items. A plain ``tag`` is required; ``+tag`` is preferred (it scores,
never excludes); ``-tag`` excludes; a nested list is an any-of group, satisfied when one of
its members holds (a member ``tag`` or ``+tag`` holds when present, ``-tag`` when absent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["TagItem", "tag_score", "tags_admit"]

TagItem = str | Sequence[str]


def _holds(member: str, have: set[str] | frozenset[str]) -> bool:
    if member.startswith("-"):
        return member[1:] not in have
    return member.removeprefix("+") in have


def tag_score(tags: Iterable[str], spec: Iterable[TagItem]) -> int | None:
    """Score ``tags`` against ``spec``: ``None`` when rejected, else the preferred tags present."""
    have = set(tags)
    score = 0
    for item in spec:
        if not isinstance(item, str):
            if not any(_holds(member, have) for member in item):
                return None
        elif item.startswith("+"):
            score += item[1:] in have
        elif not _holds(item, have):
            return None
    return score


def tags_admit(tags: Iterable[str], spec: Iterable[TagItem]) -> bool:
    """True when ``tags`` satisfy ``spec``: required present, excluded absent, groups met.

    Preferred (``+tag``) items never exclude: they only order the admitted.
    """
    return tag_score(tags, spec) is not None
