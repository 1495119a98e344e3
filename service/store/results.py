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
    "ProtectionState",
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
    #: Expired, but held by mass-expiry protection: still offered, shown as ``suspect``.
    suspect: bool = False


@dataclass(frozen=True, slots=True)
class SweepStats:
    """What one sweep pass did, summed over namespaces."""

    looked_at: int = 0
    degraded: int = 0
    expired: int = 0
    purged: int = 0
    held: int = 0  # expiries held as suspect by mass-expiry protection
    expired_by_namespace: tuple[tuple[str, int], ...] = ()
    protection_started: tuple[str, ...] = ()  # namespaces where protection began
    held_by_namespace: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ProtectionState:
    """A namespace's mass-expiry protection (``Keys.guard``) as read with the server clock."""

    since_ms: int
    until_ms: int
    reason: str
    held: int
    now_ms: int

    @property
    def active(self) -> bool:
        """Expiries are being held (until ``until_ms``)."""
        return self.now_ms < self.until_ms

    @classmethod
    def parse(cls, raw: bytes | None, held: int, now_ms: int) -> ProtectionState | None:
        """Decode ``since|until|reason[|ended]``; ``None`` without a (well-formed) guard."""
        if not raw:
            return None
        since, _, rest = raw.decode(errors="replace").partition("|")
        until, _, reason = rest.partition("|")
        if not (since.isdigit() and until.isdigit()):
            return None
        return cls(int(since), int(until), reason.removesuffix("|ended"), held, now_ms)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One raw event from a namespace stream."""

    id: str
    namespace: str
    fields: dict[str, str]


def candidates_of(
    rows: list[Any], bad: list[tuple[bytes, BaseException]] | None = None
) -> list[Candidate]:
    """Live providers from ``providers.lua``'s flat ``[entry, age_ms, degraded_after_ms, ...]``
    (age -1: held by mass-expiry protection, a suspect).

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
        age = int(rows[i + 1])
        out.append(Candidate(entry, degraded=age > int(rows[i + 2]), suspect=age < 0))
    return out


def rows_of(
    out: list[Any], bad: list[tuple[str, bytes, BaseException]] | None = None
) -> list[AgentRow]:
    """Agent rows from ``read_agents.lua``'s ``[now, [id, doc, live, pttl, held], ...]``.

    A record that does not decode is left out and, with ``bad``, appended to it with its id.
    """
    now = int(out[0])
    rows = []
    for agent_id, doc, live, pttl, held in out[1:]:
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
        alive = Liveness.parse(live or None, int(pttl))
        rows.append(AgentRow(stored, alive, now, suspect=alive is None and int(held) == 1))
    return rows
