"""Human-readable rendering of a :class:`service.bundle_diff.BundleDiff`."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from service.bundle_diff import BundleDiff, KeyChange

__all__ = ["format_diff"]

_MARK = {"added": "+", "removed": "-", "changed": "~"}


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _change(change: KeyChange) -> str:
    line = f"    {_MARK[change.kind]} {change.path}"
    if change.kind == "changed":
        line += f": {_value(change.before)} -> {_value(change.after)}"
    elif change.kind == "added":
        line += f": {_value(change.after)}"
    if change.major:
        line += "  [major]"
    return line


def format_diff(diff: BundleDiff, label_a: str = "a", label_b: str = "b") -> str:
    """One section per changed profile, then the catalog and the defaults."""
    lines = [
        f"from {label_a}: {diff.from_version} ({diff.from_environment})",
        f"to   {label_b}: {diff.to_version} ({diff.to_environment})",
    ]
    if diff.identical:
        lines.append("no semantic changes")
        return "\n".join(lines)
    lines += [f"profile {name}: added" for name in diff.profiles_added]
    lines += [f"profile {name}: removed" for name in diff.profiles_removed]
    for profile in diff.profiles:
        kind = "MAJOR, agents restart" if profile.major else "minor, applied at next heartbeat"
        counts = (
            f"{len(profile.changed)} changed, {len(profile.added)} added, "
            f"{len(profile.removed)} removed"
        )
        lines.append(f"profile {profile.profile}: {counts} ({kind})")
        lines += [_change(c) for c in profile.changes]
    if not diff.catalog.empty:
        lines.append("catalog:")
        lines += [f"    + capability {name}" for name in diff.catalog.added]
        lines += [f"    - capability {name}" for name in diff.catalog.removed]
        for name, changes in diff.catalog.changed.items():
            lines.append(f"    ~ capability {name}")
            lines += ["    " + _change(c) for c in changes]
        lines += [_change(c) for c in diff.catalog.other]
    if diff.defaults:
        lines.append("defaults:")
        lines += [_change(c) for c in diff.defaults]
    lines.append(
        "summary: " + ("MAJOR change (restart required)" if diff.major else "minor change")
    )
    return "\n".join(lines)


def diff_json(diff: BundleDiff, **extra: Any) -> str:
    """Pretty JSON of the diff plus ``extra`` fields."""
    data = msgspec.to_builtins(diff)
    data["identical"] = diff.identical
    return json.dumps({**data, **extra}, indent=2, sort_keys=True)
