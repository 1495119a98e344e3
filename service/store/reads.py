"""The read side of the store: listings, providers, discovery indexes, events, the sweep.

:class:`service.store.store.Store` inherits these; they only read (the sweep aside, which
the leader runs), each in one script or one pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from service.domain.matching import Candidate
from service.settings import Protection
from service.store.client import AnyRedis
from service.store.conn import Conn
from service.store.corrupt import UNDECODABLE, Corrupt, CorruptHook
from service.store.keys import Keys
from service.store.records import Assignment, decode_assignment
from service.store.results import (
    AgentRow,
    EventRow,
    ProtectionState,
    SweepStats,
    candidates_of,
    rows_of,
)
from service.store.scripts import Scripts

_json = msgspec.json.Encoder()

__all__ = ["Reads"]


def _s(value: Any) -> str:
    """Redis replies are bytes (no decode_responses); scripts may also return numbers."""
    return value.decode() if isinstance(value, bytes) else str(value)


# Bound on the ``_where`` guesses kept (least recently used dropped first).
_WHERE_MAX = 200_000


def _text(value: Any) -> str:
    """Event fields are text the registry wrote; bytes that are not UTF-8 (written by
    something else) are shown replaced rather than failing the whole page."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Reads:
    """Read operations over the attributes :class:`~service.store.store.Store` sets up."""

    conn: Conn
    client: AnyRedis
    keys: Keys
    scripts: Scripts
    events_maxlen: int
    #: Awaited for every stored value a read skips because it does not decode.
    on_corrupt: CorruptHook

    async def list_agents(self, ns: str, after: str, count: int) -> tuple[list[AgentRow], str]:
        """Up to ``count`` agents of ``ns`` with ids after ``after``; returns the last id seen
        (records that do not decode are skipped, so a page may hold fewer than it read)."""
        k = self.keys
        doc_prefix, live_prefix, _ = k.prefixes(ns)
        out = await self.conn.run(
            self.scripts.read_agents,
            [k.ids(ns), k.suspect(ns)],
            [doc_prefix, live_prefix, "range", after, count],
        )
        last = _s(out[-1][0]) if len(out) > 1 else ""
        return await self._rows(ns, out), last

    async def agents_by_id(self, ns: str, agent_ids: Sequence[str]) -> list[AgentRow]:
        """The named agents of ``ns`` (unknown ones are skipped)."""
        return await self._read(ns, ["ids", *agent_ids]) if agent_ids else []

    async def _read(self, ns: str, args: list[str]) -> list[AgentRow]:
        k = self.keys
        doc_prefix, live_prefix, _ = k.prefixes(ns)
        out = await self.conn.run(
            self.scripts.read_agents, [k.ids(ns), k.suspect(ns)], [doc_prefix, live_prefix, *args]
        )
        return await self._rows(ns, out)

    async def _rows(self, ns: str, out: list[Any]) -> list[AgentRow]:
        """:func:`rows_of`, handing each record that does not decode to :attr:`on_corrupt`."""
        bad: list[tuple[str, bytes, BaseException]] = []
        rows = rows_of(out, bad)
        for agent_id, raw, exc in bad:
            key = self.keys.doc(ns, agent_id)
            await self.on_corrupt(Corrupt.of("doc", ns, key, agent_id, raw, exc))
        return rows

    async def _candidates(self, ns: str, capability: str, rows: list[Any]) -> list[Candidate]:
        """:func:`candidates_of`, handing each entry that does not decode to :attr:`on_corrupt`."""
        bad: list[tuple[bytes, BaseException]] = []
        out = candidates_of(rows, bad)
        for raw, exc in bad:
            key = self.keys.providers(ns, capability)
            await self.on_corrupt(Corrupt.of("entry", ns, key, "", raw, exc))
        return out

    async def _assignment(
        self, ns: str, agent_id: str, raw: bytes | None
    ) -> tuple[Assignment | None, bool]:
        """The agent's decoded assignment, and whether one is stored that does not decode
        (handed to :attr:`on_corrupt`, and skipped)."""
        if not raw:
            return None, False
        try:
            return decode_assignment(raw), False
        except UNDECODABLE as exc:
            key = self.keys.assignment(ns, agent_id)
            await self.on_corrupt(Corrupt.of("assignment", ns, key, agent_id, raw, exc))
            return None, True

    async def providers(self, ns: str, capability: str) -> list[Candidate]:
        """Live providers of ``capability`` in ``ns``; cost is the number of its providers."""
        return (await self.providers_indexed(ns, capability))[0]

    async def providers_indexed(
        self, ns: str, capability: str
    ) -> tuple[list[Candidate], str | None]:
        """:meth:`providers` and the capability's :meth:`change_index`, read in the same
        script call (so of the same snapshot): a discovery answer and its ETag in one trip."""
        k = self.keys
        index, rows = await self.conn.run(
            self.scripts.providers,
            [k.providers(ns, capability), k.suspect(ns), k.capver(ns), k.due(ns), k.events(ns)],
            [k.prefixes(ns)[1], capability],
        )
        return await self._candidates(ns, capability, rows), _s(index) if index else None

    async def change_index(self, ns: str, capability: str = "") -> str | None:
        """The change index of ``capability`` in ``ns`` (of all of ``ns`` when empty): equal
        indexes mean an equal discovery answer. ``None`` while the sweeper is behind on a
        status transition, when only a full read is exact. One small script call."""
        k = self.keys
        keys = [k.capver(ns), k.due(ns), k.events(ns)]
        # Revalidations (304s) arrive like heartbeats, many at once on the same few keys;
        # coalescing them shares one pipeline write per loop turn.
        raw = await self.conn.run(self.scripts.read_index, keys, [capability], batch=True)
        return _s(raw) if raw else None

    async def events_after(self, after: dict[str, str], block_ms: int) -> dict[str, str]:
        """Block up to ``block_ms`` for events newer than ``after`` (namespace -> event id);
        the newest id of each namespace that had some. One XREAD over every stream."""
        streams: dict[Any, Any] = {self.keys.events(ns): last for ns, last in after.items()}
        by_key = {self.keys.events(ns): ns for ns in after}
        raw: Any = await self.conn.call(self.client.xread(streams, count=1000, block=block_ms))
        out: dict[str, str] = {}
        pairs = raw.items() if isinstance(raw, dict) else (raw or ())  # RESP3 map, RESP2 list
        for key, entries in pairs:
            if entries:
                out[by_key[_s(key)]] = _s(entries[-1][0])
        return out

    async def provider_ids(self, ns: str, capability: str) -> list[str]:
        """Agent ids holding an index entry for ``capability`` (live or not yet swept)."""
        fields = await self.conn.call(self.client.hkeys(self.keys.providers(ns, capability)))
        return sorted({_s(f).split(":", 1)[0] for f in fields})

    async def capabilities(
        self, ns: str, after: str, count: int
    ) -> tuple[list[tuple[str, list[Candidate]]], str | None]:
        """Up to ``count`` capability names of ``ns`` after ``after``, each with its live
        providers, and the namespace's :meth:`change_index` of the same snapshot: one script
        call for the page (not one per capability, nor one more for the index)."""
        k = self.keys
        _, live_prefix, prov_prefix = k.prefixes(ns)
        lower = f"({after}" if after else "-"
        out = await self.conn.run(
            self.scripts.read_capabilities,
            [k.capindex(ns), k.suspect(ns), k.capver(ns), k.due(ns), k.events(ns)],
            [prov_prefix, live_prefix, lower, count],
        )
        index, rest = (_s(out[0]) if out[0] else None), out[1:]
        names = [_s(rest[i]) for i in range(0, len(rest), 2)]
        page = [
            (name, await self._candidates(ns, name, rest[2 * i + 1]))
            for i, name in enumerate(names)
        ]
        return page, index

    async def capability_names(self, ns: str, after: str, count: int) -> list[str]:
        """Capability names of ``ns`` with at least one provider entry, after ``after``."""
        lo = f"({after}" if after else "-"
        raw = await self.conn.call(
            self.client.zrange(self.keys.capindex(ns), lo, "+", bylex=True, offset=0, num=count)
        )
        return [_s(r) for r in raw]

    async def namespaces(self) -> list[str]:
        """Every namespace that has held an agent, sorted."""
        raw = await self.conn.call(self.client.smembers(self.keys.namespaces()))
        return sorted(_s(r) for r in raw)

    async def counts(self) -> dict[str, dict[str, int]]:
        """Agents per namespace and status, as the sweeper last classified them."""
        names = await self.namespaces()
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        for ns in names:
            pipe.zcard(k.ids(ns))
            pipe.scard(k.degraded(ns))
            pipe.scard(k.expired(ns))
            pipe.scard(k.suspect(ns))
        raw = await self.conn.call(pipe.execute())
        out: dict[str, dict[str, int]] = {}
        for i, ns in enumerate(names):
            total, degraded, expired, suspect = (int(x) for x in raw[4 * i : 4 * i + 4])
            out[ns] = {
                "healthy": max(total - degraded - expired - suspect, 0),
                "degraded": degraded,
                "suspect": suspect,
                "expired": expired,
            }
        return out

    async def protection(self, ns: str) -> ProtectionState | None:
        """The namespace's mass-expiry protection as the sweeper left it (None: never, or
        its guard lapsed), with the number of agents held as suspect."""
        k = self.keys
        raw, held, now = await self.conn.run(
            self.scripts.read_protection, [k.guard(ns), k.suspect(ns)], []
        )
        return ProtectionState.parse(raw or None, int(held), int(now))

    async def events(self, ns: str, start: str, end: str, count: int) -> list[EventRow]:
        """Raw events of ``ns`` between stream ids ``start`` and ``end`` (XRANGE syntax)."""
        raw = await self.conn.call(
            self.client.xrange(self.keys.events(ns), start, end, count=count)
        )
        return [
            EventRow(_s(i), ns, {_text(f): _text(v) for f, v in (fields or {}).items()})
            for i, fields in raw or ()
        ]

    async def note_corrupt(self, found: Corrupt) -> int:
        """Record a ``corrupt`` event for ``found`` unless one was recorded for the same value
        in the same place (any replica); its agent is asked for a full POST. Returns the
        number of events recorded: 0 also when the value changed since it was read."""
        k, ns = self.keys, found.namespace
        recorded = await self.conn.run(
            self.scripts.note_corrupt,
            [k.noted(ns, "corrupt"), k.events(ns), found.key],
            [
                found.kind,
                found.agent_id,
                found.digest,
                found.reason,
                self.events_maxlen,
                k.prefixes(ns)[1],
            ],
        )
        return int(recorded)

    async def sweep(
        self,
        limit: int = 1000,
        *,
        protection: Protection | None = None,
        after_outage: bool = False,
    ) -> SweepStats:
        """Process due agents in every namespace: degraded, expired and purged transitions,
        and mass-expiry protection (``protection``; ``None``: never protect).
        ``after_outage``: the sweeper's previous pass could not reach the store."""
        k = self.keys
        p = protection or Protection(share=1.0, min_agents=1, window_ms=0, sweep_window_ms=1000)
        totals = [0, 0, 0, 0, 0]
        per_ns: list[tuple[str, int]] = []
        started: list[str] = []
        held: list[tuple[str, int]] = []
        for ns in await self.namespaces():
            doc_prefix, live_prefix, prov_prefix = k.prefixes(ns)
            keys = [
                k.due(ns),
                k.ids(ns),
                k.capver(ns),
                k.capindex(ns),
                k.degraded(ns),
                k.expired(ns),
                k.events(ns),
                k.suspect(ns),
                k.guard(ns),
                k.expiring(ns),
                *k.noted_hashes(ns),
            ]
            args: list[Any] = [
                limit,
                doc_prefix,
                live_prefix,
                prov_prefix,
                self.events_maxlen,
                k.assignment_prefix(ns),
                repr(p.share),
                p.min_agents,
                p.window_ms,
                p.sweep_window_ms,
                "1" if after_outage else "0",
            ]
            out = await self.conn.run(self.scripts.sweep, keys, args)
            for i in range(5):
                totals[i] += int(out[i])
            if int(out[2]):
                per_ns.append((ns, int(out[2])))
            if int(out[5]):
                started.append(ns)
            if int(out[4]):
                held.append((ns, int(out[4])))
        return SweepStats(
            looked_at=totals[0],
            degraded=totals[1],
            expired=totals[2],
            purged=totals[3],
            held=totals[4],
            expired_by_namespace=tuple(per_ns),
            protection_started=tuple(started),
            held_by_namespace=tuple(held),
        )
