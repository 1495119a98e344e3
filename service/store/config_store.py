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
    source: str  # claim (highest live revision), pin (operator), rollout, rollback
    own_published: bool = True  # False: Redis lost this replica's bundle; republish it
    rollout: RolloutState | None = None  # the latest rollout, whatever its state


#: The rollout hash's fields, in the order claim_active.lua returns them.
ROLLOUT_FIELDS = (
    "id", "cand", "base", "gen", "bgen", "step", "since", "started", "state", "rev", "reason",
)  # fmt: skip
OPEN = ("running", "paused")


@dataclass(frozen=True, slots=True)
class RolloutState:
    """The latest config rollout as Redis holds it (``Keys.rollout``)."""

    id: str
    candidate: str
    baseline: str
    generation: int  # the candidate's (delivered with it)
    baseline_generation: int
    step: int
    step_since_ms: int
    started_ms: int
    state: str  # running paused complete rolled-back aborted
    revision: int
    reason: str

    @property
    def open(self) -> bool:
        """True while it runs or is paused: agents are placed in cohorts."""
        return self.state in OPEN

    @classmethod
    def parse(cls, raw: list[Any]) -> RolloutState | None:
        """From the flattened hash; ``None`` when no rollout was ever started."""
        if len(raw) != len(ROLLOUT_FIELDS):
            return None  # an answer that carries none (the recovery hold)
        f = dict(zip(ROLLOUT_FIELDS, (_s(v) for v in raw), strict=True))
        if not f["id"]:
            return None

        def num(name: str) -> int:
            return int(f[name]) if f[name].lstrip("-").isdigit() else 0

        return cls(
            id=f["id"],
            candidate=f["cand"],
            baseline=f["base"],
            generation=num("gen"),
            baseline_generation=num("bgen"),
            step=num("step"),
            step_since_ms=num("since"),
            started_ms=num("started"),
            state=f["state"],
            revision=num("rev"),
            reason=f["reason"],
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """One entry of the rollout log."""

    id: str
    at_ms: int
    decision: str  # start promote pause resume complete rolled-back aborted
    rollout: str
    candidate: str
    step: int
    why: str
    by: str


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
        self,
        mode: str,
        member: str,
        ttl_ms: int,
        own_version: str,
        seen_revision: int = -1,
        rollout_baseline: str = "",
    ) -> Active:
        """Refresh (``claim``), withdraw or just ``read`` the live claims; return the active.

        ``seen_revision`` is the revision this replica last saw active (-1: none yet). When
        Redis has lost the active key, lower revisions are held back for one claim TTL, and
        ``rollout_baseline`` (the baseline of the rollout this replica serves) is active
        again, its candidate rolled out again.
        """
        k = self.keys
        keys = [
            *(k.claims(), k.active(), k.pin(), k.history(), k.versions(), k.recovery()),
            *(k.rollout(), k.rollout_log()),
        ]
        args: list[str | int] = [
            mode,
            member,
            ttl_ms,
            self.history_maxlen,
            own_version,
            seen_revision,
            k.bundle(""),
            rollout_baseline,
        ]
        out = await self.conn.run(self.scripts.claim_active, keys, args)
        return Active(
            int(out[0]),
            int(out[1]),
            _s(out[2]),
            _s(out[3]),
            bool(int(out[4])),
            RolloutState.parse(out[5:]),
        )

    async def decide(
        self, action: str, rollout_id: str, step: int | None, steps: int, why: str, by: str
    ) -> tuple[bool, str, int]:
        """Apply one rollout decision (``rollout_decide.lua``) if the rollout is still
        ``rollout_id`` at ``step`` (``None``: any); (applied, state, step) after it."""
        k = self.keys
        out = await self.conn.run(
            self.scripts.rollout_decide,
            [k.rollout(), k.rollout_log(), k.active(), k.history()],
            [action, rollout_id, "" if step is None else step, steps, why, by, self.history_maxlen],
        )
        return _s(out[0]) == "ok", _s(out[1]), int(_s(out[2]) or 0)

    async def decisions(self, count: int = 50) -> list[Decision]:
        """The latest rollout decisions, newest first."""
        raw: Any = await self.conn.call(self.client.xrevrange(self.keys.rollout_log(), count=count))
        out = []
        for sid, fields in raw or ():
            f = {_s(a): _s(b) for a, b in fields.items()}
            out.append(
                Decision(
                    id=_s(sid),
                    at_ms=int(_s(sid).split("-", 1)[0]),
                    decision=f.get("d", ""),
                    rollout=f.get("rid", ""),
                    candidate=f.get("cand", ""),
                    step=int(f.get("step") or 0),
                    why=f.get("why", ""),
                    by=f.get("by", ""),
                )
            )
        return out

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

    async def last_activation_id(self) -> dict[str, str]:
        """The newest ids of the activation history and the rollout log ("0-0": empty)."""
        out = {}
        for key in (self.keys.history(), self.keys.rollout_log()):
            raw: Any = await self.conn.call(self.client.xrevrange(key, count=1))
            out[key] = _s(raw[0][0]) if raw else "0-0"
        return out

    async def wait_activation(self, after: dict[str, str], block_ms: int) -> dict[str, str]:
        """Block up to ``block_ms`` for an activation or a rollout decision newer than
        ``after`` (from :meth:`last_activation_id`); the newest ids.

        A blocking XREAD on both streams: every replica learns of an activation or a
        rollout step by any other replica within a round trip, not at its next refresh.
        """
        streams: Any = dict(after)
        raw: Any = await self.conn.call(self.client.xread(streams, count=100, block=block_ms))
        newest = dict(after)
        pairs = raw.items() if isinstance(raw, dict) else (raw or ())
        for key, entries in pairs:  # RESP3 answers a map, RESP2 a list of pairs
            for sid, _fields in entries:
                newest[_s(key)] = _s(sid)
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
