"""Stored values that fail to decode: what the store tells its owner about each one.

Read paths skip such a value (a listing leaves the agent out, discovery leaves the provider
out) instead of failing the request: one corrupted key must never turn another agent's
request into an error. The store hands every skipped value to :attr:`Reads.on_corrupt`;
the application layer counts it and records it once (``note_corrupt.lua``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("service.store")

#: What decoding a stored value raises when the value is corrupt: msgspec's DecodeError and
#: ValidationError, UnicodeDecodeError (all ValueError), and RecursionError for JSON nested
#: deeper than Python's recursion limit.
UNDECODABLE = (ValueError, RecursionError)

Kind = Literal["doc", "entry", "assignment"]
_REASON_MAX = 160


def value_digest(raw: bytes) -> str:
    """16 hex of the value's sha1: what ``note_corrupt.lua`` recomputes to name it."""
    return hashlib.sha1(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Corrupt:
    """One stored value that did not decode, and where it is."""

    kind: Kind
    namespace: str
    #: The Redis key holding it (a provider HASH for an entry).
    key: str
    #: The agent whose value it is; ``""`` for an entry (its field names the agent, and
    #: ``note_corrupt.lua`` finds the field by the digest).
    agent_id: str
    digest: str
    reason: str

    @classmethod
    def of(
        cls, kind: Kind, namespace: str, key: str, agent_id: str, raw: bytes, exc: BaseException
    ) -> Corrupt:
        """Describe ``raw``, read at ``key``, that failed to decode with ``exc``."""
        reason = f"{type(exc).__name__}: {exc}"
        if len(reason) > _REASON_MAX:
            reason = reason[: _REASON_MAX - 3] + "..."
        return cls(kind, namespace, key, agent_id, value_digest(raw), reason)


#: Called (and awaited) for every value a read skipped, before the read returns.
CorruptHook = Callable[[Corrupt], Awaitable[None]]


async def log_corrupt(found: Corrupt) -> None:
    """The hook of a store nobody installed one on: a warning per skipped value."""
    log.warning(
        "skipped a stored %s that does not decode at %s: %s", found.kind, found.key, found.reason
    )
