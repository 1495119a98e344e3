"""Query filters shared by the list endpoints: capability, tag, status, namespace, version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.errors import InvalidInput
from service.matching import ConstraintError, parse_constraint, version_matches
from service.models import Tool
from service.store.records import Status

StatusFilter = Literal["healthy", "degraded", "expired"]


@dataclass(frozen=True, slots=True)
class AgentFilter:
    """A parsed filter; tags use the dependency syntax (plain required, ``-tag`` excluded)."""

    capability: str | None = None
    tags: tuple[str, ...] = ()
    status: StatusFilter | None = None
    version: str | None = None

    def __post_init__(self) -> None:
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
        have = set(tool.tags)
        for tag in self.tags:
            if tag.startswith("-"):
                if tag[1:] in have:
                    return False
            elif tag.lstrip("+") not in have:
                return False
        return True

    @property
    def on_tools(self) -> bool:
        """True when any part of the filter looks at tools."""
        return bool(self.capability or self.tags or self.version)

    def matches(self, tools: list[Tool], status: Status) -> bool:
        """Does an agent with ``tools`` and ``status`` pass?"""
        if self.status is not None and status != self.status:
            return False
        return not self.on_tools or any(self.tool_ok(t) for t in tools)
