"""The simulated fleet of the fault suite: N agents in one asyncio process.

Each agent registers with a full ``POST /heartbeat`` (MCP Mesh bodies from
:mod:`loadtests.bodies`), then sends ``HEAD /heartbeat/{id}`` every interval on a fixed grid
(its phase is its index over the fleet). A 202 or 410 makes it POST at once. A connection
error, a timeout or a 5xx makes it fail over to the other replica and retry there
(connection errors after 50 ms, a 503 after ``min(Retry-After, interval)``) until the next
tick, which it never moves: an outage never stretches an agent's interval. Like
``service.client.RegistryClient``, it stays on the replica it failed over to; agents start
spread over both (index % 2). Each agent keeps its own keep-alive connection to each replica
(:mod:`loadtests.faults_http`), as separate agent processes would.

Providers each offer their own capability; a few consumers depend on every provider (each
provider on exactly one consumer), and the ``dependencies_resolved`` of every consumer POST
answer is kept as that consumer's view, with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from loadtests.bodies import dependency, envelope, tool
from loadtests.faults_http import Connection, HttpError

#: Dependencies per consumer tool (the registry accepts at most 32 per tool).
_DEPS_PER_TOOL = 32
#: Pause before retrying on the other replica after a connection error or a timeout.
_RECONNECT_PAUSE = 0.05


def provider_id(i: int) -> str:
    return f"fault-{i}"


def consumer_id(c: int) -> str:
    return f"fault-consumer-{c}"


def _provider_body(i: int) -> dict[str, Any]:
    items = [tool("serve", f"fault-svc-{i}", tags=["prod", "fast"])]
    return envelope(provider_id(i), items, port=9000 + i % 1000)


def _consumer_body(c: int, deps: list[int]) -> dict[str, Any]:
    chunks = [deps[k : k + _DEPS_PER_TOOL] for k in range(0, len(deps), _DEPS_PER_TOOL)]
    items = [
        tool(
            f"use_{j}",
            f"fault-use-{c}-{j}",
            tags=["prod"],
            deps=[dependency(f"fault-svc-{i}") for i in chunk],
        )
        for j, chunk in enumerate(chunks)
    ]
    return envelope(consumer_id(c), items, port=8500 + c)


def resolved_ids(answer: dict[str, Any]) -> frozenset[str]:
    """The agent ids a POST answer wires: every slot not ``unresolved`` (``suspect`` and
    any other status still count as offered)."""
    out: set[str] = set()
    for slots in (answer.get("dependencies_resolved") or {}).values():
        for slot in slots or []:
            offered = isinstance(slot, dict) and slot.get("status") != "unresolved"
            if offered and slot.get("agent_id"):
                out.add(str(slot["agent_id"]))
    return frozenset(out)


@dataclass
class Agent:
    """One simulated agent and what happened to it."""

    id: str
    body: bytes  # the POST body, encoded once
    current: int  # the replica it talks to (0 or 1); it moves on a failure
    phase: float  # fraction of the interval its grid is shifted by
    deps: frozenset[str] = frozenset()  # provider ids this consumer depends on
    need_post: bool = True
    killed_at: float | None = None
    registered: bool = False
    seen: Counter[str] = field(default_factory=Counter)  # outcomes while counting
    slowest: float = 0.0  # the longest answer (or failure) while counting, seconds
    views: list[tuple[float, frozenset[str]]] = field(default_factory=list)  # consumers
    task: asyncio.Task[None] | None = None
    conns: list[Connection] = field(default_factory=list)  # one per replica


class Fleet:
    """Providers and consumers heartbeating against two replicas."""

    def __init__(
        self, urls: list[str], agents: int, consumers: int, interval: float, timeout: float
    ) -> None:
        self.urls = urls
        self.interval = interval
        providers = max(1, agents - consumers)
        enc = msgspec.json.encode
        self.providers = [
            Agent(provider_id(i), enc(_provider_body(i)), i % 2, i / agents)
            for i in range(providers)
        ]
        self.consumers = []
        for c in range(consumers):
            deps = [i for i in range(providers) if i % consumers == c]
            body = enc(_consumer_body(c, deps))
            a = Agent(consumer_id(c), body, c % 2, (providers + c) / agents)
            a.deps = frozenset(provider_id(i) for i in deps)
            self.consumers.append(a)
        self.agents = self.providers + self.consumers
        self.counting = False
        #: outcome -> (first, last) monotonic time it was seen while counting
        self.windows: dict[str, tuple[float, float]] = {}
        ports = [int(u.rsplit(":", 1)[1]) for u in urls]
        for a in self.agents:
            a.conns = [Connection(p, timeout) for p in ports]

    def live(self) -> list[Agent]:
        return [a for a in self.agents if a.killed_at is None]

    def start(self) -> None:
        """Start every provider now and the consumers one interval later (so that their
        first answers already wire most providers)."""
        t0 = time.monotonic()
        for a in self.providers:
            a.task = asyncio.create_task(self._run(a, t0 + a.phase * self.interval))
        for a in self.consumers:
            a.task = asyncio.create_task(self._run(a, t0 + (1 + a.phase) * self.interval))

    def kill(self, agents: list[Agent]) -> None:
        """Stop these agents' loops (as a SIGKILL would: no deregistration)."""
        now = time.monotonic()
        for a in agents:
            a.killed_at = now
            if a.task is not None:
                a.task.cancel()

    async def close(self) -> None:
        tasks = [a.task for a in self.agents if a.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for a in self.agents:
            for c in a.conns:
                c.close()

    def _note(self, a: Agent, outcome: str, sent: float) -> None:
        if self.counting:
            a.seen[outcome] += 1
            now = time.monotonic()
            a.slowest = max(a.slowest, now - sent)
            first, _ = self.windows.get(outcome, (now, now))
            self.windows[outcome] = (first, now)

    async def _run(self, a: Agent, start_at: float) -> None:
        tick = start_at
        while True:
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            tick += self.interval
            await self._beat(a, tick)
            late = time.monotonic() - tick
            if late > 0:  # a slow answer: keep the grid, skip the missed ticks
                tick += self.interval * (int(late / self.interval) + 1)

    async def _beat(self, a: Agent, deadline: float) -> None:
        """One heartbeat, with failover retries until ``deadline`` (the next tick)."""
        while True:
            wait = await self._once(a, a.current)
            if wait is None:
                return
            a.current = 1 - a.current  # fail over, and stay there
            if time.monotonic() + wait >= deadline:
                return
            await asyncio.sleep(wait)

    async def _once(self, a: Agent, replica: int) -> float | None:
        """One HEAD (and the POST a 202/410 asks for); ``None`` when the heartbeat is done,
        else how long to wait before retrying on the other replica."""
        conn = a.conns[replica]
        while True:
            post = a.need_post
            sent = time.monotonic()
            try:
                if post:
                    status, headers, data = await conn.request("POST", "/heartbeat", a.body)
                else:
                    status, headers, data = await conn.request("HEAD", f"/heartbeat/{a.id}")
            except TimeoutError:
                self._note(a, "timeout", sent)
                return _RECONNECT_PAUSE
            except HttpError:
                self._note(a, "conn", sent)
                return _RECONNECT_PAUSE
            label = str(status) if status in (200, 202, 410, 503) else f"{status // 100}xx"
            self._note(a, label, sent)
            if status >= 500:
                return min(_retry_after(headers, self.interval), self.interval)
            if status == 410 or (status == 202 and not post):
                a.need_post = True
                continue  # POST at once, same replica
            if status == 200:
                if post:
                    a.need_post = False
                    a.registered = True
                    if a.deps:
                        answer = msgspec.json.decode(data)
                        a.views.append((time.monotonic(), resolved_ids(answer)))
                return None
            return None  # any other 4xx: counted; retried at the next tick


def _retry_after(headers: dict[str, str], default: float) -> float:
    try:
        return max(0.0, float(headers.get("retry-after", default)))
    except ValueError:
        return default
