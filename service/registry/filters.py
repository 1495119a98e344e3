"""Query filters shared by the list endpoints: capability, tag, status, namespace, version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.domain.matching import ConstraintError, parse_constraint, tags_admit, version_matches
from service.errors import InvalidInput
from service.models import CONSTRAINT_PATTERN, AgentStatus, Tool
from service.store.records import Status

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

    def tool_ok(self, tool: Tool) -> bool:
        """Does one tool satisfy the capability, tag and version parts?"""
        if self.capability is not None and tool.capability != self.capability:
            return False
        if not version_matches(tool.version, parse_constraint(self.version)):
            return False
        return tags_admit(tool.tags, list(self.tags))

    @property
    def on_tools(self) -> bool:
        """True when any part of the filter looks at tools."""
        return bool(self.capability or self.tags or self.version)

    def matches(self, tools: list[Tool], status: Status) -> bool:
        """Does an agent with ``tools`` and ``status`` pass?"""
        if self.status is not None and status != self.status:
            return False
        return not self.on_tools or any(self.tool_ok(t) for t in tools)
