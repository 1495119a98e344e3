"""Query filters shared by the list endpoints: capability, tag, status, namespace, version."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.matching import ConstraintError, parse_constraint, tags_admit, version_matches
from service.errors import InvalidInput
from service.models import CONSTRAINT_PATTERN, AgentStatus
from service.store.records import Status, StoredTool

StatusFilter = AgentStatus
_CONSTRAINT = re.compile(CONSTRAINT_PATTERN)


@dataclass(frozen=True, slots=True)
class AgentFilter:
    """A parsed filter. Tags use the dependency syntax (docs/matching.md): a plain tag is
    required, ``-tag`` excludes, ``+tag`` is preferred (so it never excludes anything)."""

    capability: str | None = None
    tags: tuple[str, ...] = ()
    status: StatusFilter | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if self.version is not None and not _CONSTRAINT.search(self.version):
            # The documented form (the same pattern bodies are held to), not just the grammar.
            raise InvalidInput(
                f"version: {self.version!r} is not a constraint such as '>=1.2,<2' or '^1.2'",
                field="version",
            )
        try:
            parse_constraint(self.version)
        except ConstraintError as exc:
            raise InvalidInput(f"version: {exc}", field="version") from None

    def tool_ok(self, capability: str, version: str, tags: Sequence[str]) -> bool:
        """Does one tool (its capability, version and tags) satisfy the tool parts?"""
        if self.capability is not None and capability != self.capability:
            return False
        if not version_matches(version, parse_constraint(self.version)):
            return False
        return tags_admit(tags, self.tags)

    @property
    def on_tools(self) -> bool:
        """True when any part of the filter looks at tools."""
        return bool(self.capability or self.tags or self.version)

    def matches(self, tools: Sequence[StoredTool], status: Status) -> bool:
        """Does an agent with ``tools`` and ``status`` pass?"""
        if self.status is not None and status != self.status:
            return False
        return not self.on_tools or any(
            self.tool_ok(t.capability, t.version, t.tags) for t in tools
        )
