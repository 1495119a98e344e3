"""What the fault suite sees from outside: listings, expire events, and the figures.

The observer reads ``GET /agents`` (every page, unfiltered) about every half second from
either replica (the other one when the first does not answer) and ``GET /events?type=expire``
every second. An agent is *listed* when it appears with any status but ``expired``: a
``suspect`` agent (held by mass-expiry protection) is still listed and still offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtests.faults_fleet import Agent, Fleet

LIST_EVERY = 0.5
EVENTS_EVERY = 1.0


@dataclass
class Snapshot:
    """One complete listing: agent id -> status; ``None`` when no replica answered."""

    sent: float
    got: float
    statuses: dict[str, str] | None

    def listed(self) -> set[str]:
        return {i for i, s in (self.statuses or {}).items() if s != "expired"}


@dataclass
class Observer:
    """Polls the listing and the expire events while a scenario runs."""

    urls: list[str]
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    snapshots: list[Snapshot] = field(default_factory=list)
    expire_events: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, agent): ts
    errors: int = 0  # observer requests that failed (any replica)
    _turn: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _http: list[httpx.AsyncClient] = field(default_factory=list)

    def start(self) -> None:
        self._http = [httpx.AsyncClient(base_url=u, timeout=3.0) for u in self.urls]
        self._tasks = [
            asyncio.create_task(self._loop(self.snapshot, LIST_EVERY)),
            asyncio.create_task(self._loop(self.read_events, EVENTS_EVERY)),
        ]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for c in self._http:
            await c.aclose()

    async def _loop(self, step: Any, every: float) -> None:
        while True:
            started = time.monotonic()
            await step()
            await asyncio.sleep(max(0.05, every - (time.monotonic() - started)))

    async def _get_all(
        self, path: str, params: dict[str, Any], key: str, only: int | None = None
    ) -> list[Any] | None:
        """Every page of ``path`` from one replica (the other if it fails; ``only`` that one);
        None if none answered."""
        self._turn = 1 - self._turn
        for r in (self._turn, 1 - self._turn) if only is None else (only,):
            out: list[Any] = []
            query = dict(params)
            try:
                for _ in range(100):  # bounded: 100 pages of 1,000
                    resp = await self._http[r].get(path, params=query)
                    if resp.status_code != 200:
                        raise httpx.HTTPStatusError("", request=resp.request, response=resp)
                    body = resp.json()
                    out += body[key]
                    if not body.get("next_cursor"):
                        return out
                    query = {**params, "cursor": body["next_cursor"]}
            except (httpx.HTTPError, ValueError, KeyError):
                self.errors += 1
        return None

    async def snapshot(self, only: int | None = None) -> Snapshot:
        """Read the whole listing now (from replica ``only``, else either) and keep it."""
        sent = time.monotonic()
        rows = await self._get_all("/agents", {"limit": 1000}, "agents", only)
        statuses = None if rows is None else {str(a["id"]): str(a["status"]) for a in rows}
        snap = Snapshot(sent, time.monotonic(), statuses)
        self.snapshots.append(snap)
        return snap

    async def read_events(self) -> None:
        params = {"type": "expire", "since": str(self.since_ms), "limit": 1000}
        events = await self._get_all("/events", params, "events")
        for e in events or []:
            self.expire_events[str(e["id"]), str(e["agent_id"])] = str(e["timestamp"])

    async def wait_steady(self, fleet: Fleet, within: float) -> float | None:
        """Wait until every agent is registered and listed and every consumer wires all of
        its providers; the time it happened, or None after ``within`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            snap = self.snapshots[-1] if self.snapshots else None
            ids = {a.id for a in fleet.agents}
            if (
                snap is not None
                and snap.statuses is not None
                and ids <= snap.listed()
                and all(a.registered for a in fleet.agents)
                and all(c.views and c.deps <= c.views[-1][1] for c in fleet.consumers)
            ):
                return snap.got
            await asyncio.sleep(0.2)
        return None


def _full(snap: Snapshot, live: set[str]) -> bool:
    return snap.statuses is not None and live <= snap.listed()


def reregistration(snaps: list[Snapshot], agents: list[Agent], fault: float) -> float | None:
    """Seconds from ``fault`` to the first full listing of the last run of full ones (0 if
    no listing after the fault missed a live agent; None if the last one still does)."""
    after = [s for s in snaps if s.sent >= fault]
    last_bad = None
    for k, s in enumerate(after):
        live = {a.id for a in agents if a.killed_at is None or a.killed_at > s.sent}
        if not _full(s, live):
            last_bad = k
    if last_bad is None:
        return 0.0
    if last_bad == len(after) - 1:
        return None
    return after[last_bad + 1].got - fault


@dataclass
class Gaps:
    """Evidence that never-killed agents were taken for expired, after the steady state."""

    events: set[str] = field(default_factory=set)  # an ``expire`` event
    expired: set[str] = field(default_factory=set)  # listed with status ``expired``
    absent: set[str] = field(default_factory=set)  # missing from a listing
    consumer: set[str] = field(default_factory=set)  # missing from its consumer's view
    degraded: set[str] = field(default_factory=set)  # shown degraded (a diagnostic only)

    def agents(self) -> set[str]:
        return self.events | self.expired | self.absent | self.consumer


def gaps(
    obs: Observer, fleet: Fleet, steady: float, excuse_absence_until: float | None = None
) -> Gaps:
    """Collect :class:`Gaps` over never-killed agents. Before ``excuse_absence_until``
    (Redis came back empty: nobody is registered until agents re-register) an absence from
    the listing or a consumer's view is the data loss, not an expiry."""
    keep = {a.id for a in fleet.agents if a.killed_at is None}
    g = Gaps()
    g.events = {agent for (_, agent) in obs.expire_events if agent in keep}
    for s in obs.snapshots:
        if s.sent < steady or s.statuses is None:
            continue
        for i in keep:
            status = s.statuses.get(i)
            if status == "expired":
                g.expired.add(i)
            elif status is None and (excuse_absence_until is None or s.sent > excuse_absence_until):
                g.absent.add(i)
            elif status == "degraded":
                g.degraded.add(i)
    for c in fleet.consumers:
        for at, view in c.views:
            if at < steady or (excuse_absence_until is not None and at <= excuse_absence_until):
                continue
            g.consumer |= (c.deps & keep) - view
    return g


def unwired_after(obs: Observer, fleet: Fleet, a: Agent) -> tuple[float | None, float | None]:
    """Seconds from ``a``'s kill until it left the listing for good, and until its consumer's
    view dropped it for good (None: not yet)."""
    assert a.killed_at is not None
    killed = a.killed_at
    listing = None
    for s in obs.snapshots:
        if s.sent < killed or s.statuses is None:
            continue
        gone = a.id not in s.listed()
        if gone and listing is None:
            listing = s.got - killed
        elif not gone:
            listing = None
    view_gone: float | None = None
    for c in fleet.consumers:
        if a.id not in c.deps:
            continue
        before = [v for at, v in c.views if at < killed]
        view_gone = 0.0 if before and a.id not in before[-1] else None
        for at, view in c.views:
            if at < killed:
                continue
            if a.id not in view and view_gone is None:
                view_gone = at - killed
            elif a.id in view:
                view_gone = None
    return listing, view_gone


def final_listing(snaps: list[Snapshot], fleet: Fleet) -> dict[str, Any]:
    """Does each replica's last listing equal the set of live simulated agents?"""
    live = {a.id for a in fleet.live()}
    per = [
        {
            "answered": s.statuses is not None,
            "missing": sorted(live - s.listed())[:10],
            "extra": sorted(s.listed() - live)[:10],
        }
        for s in snaps
    ]
    equal = all(p["answered"] and not p["missing"] and not p["extra"] for p in per)
    return {"equal": equal, "replicas": per}
