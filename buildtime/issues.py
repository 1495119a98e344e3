"""Structured validation issues: every error names a file, a line or JSON pointer, and a hint."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Issue", "Issues", "format_json", "format_text"]


@dataclass(frozen=True)
class Issue:
    """One validation error.

    ``file`` is relative to the project root. ``line`` is 1-based when known; ``pointer`` is a
    JSON pointer into the file's (rendered) document when the error is about a value.
    """

    code: str
    message: str
    file: str
    line: int | None = None
    pointer: str | None = None
    hint: str | None = None
    envs: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, int | None, str | None, str]:
        """Identity used to merge the same error reported by several environments."""
        return (self.file, self.code, self.line, self.pointer, self.message)

    def location(self) -> str:
        """``file:line`` or ``file#pointer`` (or both)."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.pointer:
            where += f"#{self.pointer}"
        return where

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``--format json``."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "pointer": self.pointer,
            "hint": self.hint,
            "envs": list(self.envs),
        }


@dataclass
class Issues:
    """An ordered collection that merges duplicates across environments."""

    _items: dict[tuple[str, str, int | None, str | None, str], Issue] = field(default_factory=dict)

    def add(self, issue: Issue) -> None:
        """Record ``issue``; the same error from another environment only adds that env."""
        known = self._items.get(issue.key)
        if known is None:
            self._items[issue.key] = issue
            return
        envs = tuple(dict.fromkeys(known.envs + issue.envs))
        self._items[issue.key] = Issue(**{**known.to_dict(), "envs": envs})

    def extend(self, issues: Iterable[Issue]) -> None:
        """Record several issues."""
        for issue in issues:
            self.add(issue)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def sorted(self) -> list[Issue]:
        """Issues ordered by file, then line, then pointer."""
        return sorted(
            self._items.values(),
            key=lambda i: (i.file, i.line or 0, i.pointer or "", i.code, i.message),
        )


def format_text(issues: Iterable[Issue]) -> str:
    """Human-readable report: one ``location: error [code] message`` line per issue."""
    lines: list[str] = []
    for issue in issues:
        envs = f" ({', '.join(issue.envs)})" if issue.envs else ""
        lines.append(f"{issue.location()}: error [{issue.code}] {issue.message}{envs}")
        if issue.hint:
            lines.append(f"    hint: {issue.hint}")
    return "\n".join(lines)


def format_json(issues: Iterable[Issue], **extra: Any) -> str:
    """Machine-readable report: ``{"ok": bool, "errors": [...], **extra}``."""
    errors = [issue.to_dict() for issue in issues]
    return json.dumps({"ok": not errors, "errors": errors, **extra}, indent=2, sort_keys=True)
