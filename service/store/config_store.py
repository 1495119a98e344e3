"""Fleet config in Redis: published bundles, live "active" claims, activation history, and
runtime capability assignments. Domain methods only; keys come from :mod:`service.store.keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.store.client import AnyRedis
from service.store.keys import Keys
from service.store.store import Store


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _b(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


@dataclass(frozen=True, slots=True)
class Active:
    """The fleet-active bundle as Redis computed it."""

    generation: int
    revision: int
    version: str
    source: str  # "claim" (highest live revision) or "pin" (operator override)
    own_published: bool = True  # False: Redis lost this replica's bundle; republish it


@dataclass(frozen=True, slots=True)
class Activation:
    """One entry of the activation history."""

    id: str
    at_ms: int
    generation: int
    revision: int
    version: str
    previous: str
    replica: str
    source: str


class ConfigStore:
    """Config operations over the same connection, scripts and error guard as :class:`Store`."""

    def __init__(self, store: Store, *, history_maxlen: int = 1000) -> None:
        self.store = store
        self.conn = store.conn
        self.client: AnyRedis = store.client
        self.keys: Keys = store.keys
        self.history_maxlen = history_maxlen
        self.scripts = store.scripts

    async def publish(self, version: str, files: Mapping[str, bytes]) -> bool:
        """Publish a bundle's exact bytes under its version; False if it already existed."""
        k = self.keys
        args: list[Any] = [version]
        for path in sorted(files):
            args += [path, files[path]]
        done = await self.conn.run(
            self.scripts.publish_bundle, [k.bundle(version), k.versions()], args
        )
        return bool(done)

    async def claim(
        self, mode: str, member: str, ttl_ms: int, own_version: str, seen_revision: int = -1
    ) -> Active:
        """Refresh (``claim``), withdraw or just ``read`` the live claims; return the active.

        ``seen_revision`` is the revision this replica last saw active (-1: none yet). When
        Redis has lost the active key, lower revisions are held back for one claim TTL.
        """
        k = self.keys
        keys = [k.claims(), k.active(), k.pin(), k.history(), k.versions(), k.recovery()]
        args: list[str | int] = [
            mode,
            member,
            ttl_ms,
            self.history_maxlen,
            own_version,
            seen_revision,
        ]
        out = await self.conn.run(self.scripts.claim_active, keys, args)
        return Active(int(out[0]), int(out[1]), _s(out[2]), _s(out[3]), bool(int(out[4])))

    async def bundle_files(self, version: str) -> dict[str, bytes] | None:
        """The published files of ``version``, or ``None`` when it was never published."""
        raw: Any = await self.conn.call(self.client.hgetall(self.keys.bundle(version)))
        return {_s(p): _b(b) for p, b in raw.items()} if raw else None

    async def versions(self) -> list[tuple[str, int]]:
        """Published versions with their first-publish time (ms), oldest first."""
        raw: Any = await self.conn.call(
            self.client.zrange(self.keys.versions(), 0, -1, withscores=True)
        )
        return [(_s(v), int(score)) for v, score in raw]

    async def history(self, count: int = 100) -> list[Activation]:
        """The latest activations, newest first."""
        raw: Any = await self.conn.call(self.client.xrevrange(self.keys.history(), count=count))
        out = []
        for sid, fields in raw or ():
            f = {_s(a): _s(b) for a, b in fields.items()}
            out.append(
                Activation(
                    id=_s(sid),
                    at_ms=int(_s(sid).split("-", 1)[0]),
                    generation=int(f.get("gen", 0)),
                    revision=int(f.get("rev", 0)),
                    version=f.get("v", ""),
                    previous=f.get("prev", ""),
                    replica=f.get("by", ""),
                    source=f.get("src", "claim"),
                )
            )
        return out

    async def last_activation_id(self) -> str:
        """The stream id of the newest activation ("0-0" when there is none yet)."""
        raw: Any = await self.conn.call(self.client.xrevrange(self.keys.history(), count=1))
        return _s(raw[0][0]) if raw else "0-0"

    async def wait_activation(self, after: str, block_ms: int) -> str:
        """Block up to ``block_ms`` for an activation newer than ``after``; the newest id.

        A blocking XREAD on the history stream: every replica learns of an activation by
        any other replica within a round trip, instead of at its next refresh tick.
        """
        key = self.keys.history()
        raw: Any = await self.conn.call(self.client.xread({key: after}, count=100, block=block_ms))
        newest = after
        streams = raw.values() if isinstance(raw, dict) else (e for _, e in raw or ())
        for entries in streams:  # RESP3 answers a map, RESP2 a list of pairs
            for sid, _fields in entries:
                newest = _s(sid)
        return newest

    async def lead(self, task: str, replica: str, lease_ms: int) -> bool:
        """Take or renew the leader lease of ``task``; True while this replica holds it."""
        held = await self.conn.run(self.scripts.lead, [self.keys.lock(task)], [replica, lease_ms])
        return bool(held)

    async def save_drift(self, report: bytes, ttl_ms: int) -> None:
        """Share the leader's drift report with the other replicas (expires with the leader)."""
        await self.conn.call(self.client.set(self.keys.drift_report(), report, px=ttl_ms))

    async def load_drift(self) -> bytes | None:
        """The last shared drift report, if a leader wrote one recently."""
        raw: Any = await self.conn.call(self.client.get(self.keys.drift_report()))
        return _b(raw) if raw else None

    async def claims(self) -> list[tuple[str, int]]:
        """Live claim members with their expiry (ms), for the versions view."""
        raw: Any = await self.conn.call(
            self.client.zrange(self.keys.claims(), 0, -1, withscores=True)
        )
        return [(_s(m), int(score)) for m, score in raw]

    async def set_pin(self, version: str | None) -> None:
        """Pin ``version`` as active (manual override), or clear the pin with ``None``."""
        if version is None:
            await self.conn.call(self.client.delete(self.keys.pin()))
        else:
            await self.conn.call(self.client.set(self.keys.pin(), version))

    async def assign(self, ns: str, agent_id: str, body: bytes, version: str) -> bool:
        """Store (``body``) or clear (``b""``) an assignment and mark the agent stale."""
        k = self.keys
        live = await self.conn.run(
            self.scripts.assign_capabilities,
            [k.assignment(ns, agent_id), k.live(ns, agent_id), k.events(ns)],
            [agent_id, body, self.store.events_maxlen, version],
        )
        return bool(live)

    async def assignment(self, ns: str, agent_id: str) -> bytes | None:
        """The stored assignment JSON of one agent, if any."""
        raw: Any = await self.conn.call(self.client.get(self.keys.assignment(ns, agent_id)))
        return _b(raw) if raw else None

    async def note_event(self, ns: str, kind: str, agent_id: str, detail: str) -> None:
        """Append a registry event (drift, lost assignment) to the namespace's stream."""
        await self.conn.call(
            self.client.xadd(
                self.keys.events(ns),
                {"t": kind, "a": agent_id, "d": detail},
                maxlen=self.store.events_maxlen,
                approximate=True,
            )
        )

    async def note_once(self, ns: str, name: str, agent_id: str, value: str, detail: str) -> bool:
        """Record a ``name`` event for ``agent_id`` the first time it reaches ``value``.

        One script: when every replica notices the same drift, exactly one records the event
        (True); the others, and any later pass, get False.
        """
        k = self.keys
        new = await self.conn.run(
            self.scripts.note_once,
            [k.noted(ns, name), k.events(ns)],
            [agent_id, value, name, detail, self.store.events_maxlen],
        )
        return bool(new)
