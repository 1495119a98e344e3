"""What store operations return: plain values decoded from Redis replies."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from service.domain.matching import Candidate
from service.store.corrupt import UNDECODABLE
from service.store.records import Assignment, Liveness, StoredAgent, decode_doc, decode_entry

__all__ = [
    "AgentRow",
    "EventRow",
    "HeartbeatResult",
    "NotOwner",
    "SweepStats",
    "Touch",
    "candidates_of",
    "rows_of",
]


class Touch(enum.IntEnum):
    """Outcome of a cheap heartbeat."""

    GONE = 0
    OK = 1
    CHANGED = 2
    FORBIDDEN = 3  # another identity owns the agent id: nothing was refreshed


class NotOwner(Exception):
    """The agent id is bound to another identity; the store changed nothing."""


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """What a full heartbeat did, and the live candidates for each dependency capability."""

    kind: str
    candidates: dict[str, list[Candidate]]
    # The agent's runtime capability assignment, read in the same EVALSHA.
    assignment: Assignment | None = None
    # True when an assignment is stored but does not decode (skipped, like ``None``, and
    # reported): the agent is told nothing about its capabilities rather than the defaults.
    assignment_corrupt: bool = False


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent as read for the API: its record and its liveness (``None`` = expired)."""

    doc: StoredAgent
    live: Liveness | None
    now_ms: int


@dataclass(frozen=True, slots=True)
class SweepStats:
    """What one sweep pass did, summed over namespaces."""

    looked_at: int = 0
    degraded: int = 0
    expired: int = 0
    purged: int = 0
    expired_by_namespace: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class EventRow:
    """One raw event from a namespace stream."""

    id: str
    namespace: str
    fields: dict[str, str]


def candidates_of(
    rows: list[Any], bad: list[tuple[bytes, BaseException]] | None = None
) -> list[Candidate]:
    """Live providers from ``providers.lua``'s flat ``[entry, age_ms, degraded_after_ms, ...]``.

    An entry that does not decode is left out and, with ``bad``, appended to it.
    """
    out = []
    for i in range(0, len(rows), 3):
        try:
            entry = decode_entry(rows[i])
        except UNDECODABLE as exc:
            if bad is not None:
                bad.append((rows[i], exc))
            continue
        out.append(Candidate(entry, degraded=int(rows[i + 1]) > int(rows[i + 2])))
    return out


def rows_of(
    out: list[Any], bad: list[tuple[str, bytes, BaseException]] | None = None
) -> list[AgentRow]:
    """Agent rows from ``read_agents.lua``'s ``[now, [id, doc, live, pttl], ...]`` reply.

    A record that does not decode is left out and, with ``bad``, appended to it with its id.
    """
    now = int(out[0])
    rows = []
    for agent_id, doc, live, pttl in out[1:]:
        if not doc:
            continue  # purged (or never fully written); the sweeper drops the id
        try:
            stored = decode_doc(doc)
        except UNDECODABLE as exc:
            if bad is not None:
                name = (
                    agent_id.decode(errors="replace") if isinstance(agent_id, bytes) else agent_id
                )
                bad.append((str(name), doc, exc))
            continue
        rows.append(AgentRow(stored, Liveness.parse(live or None, int(pttl)), now))
    return rows
