"""The registry's Redis store: domain methods over Lua scripts.

Every Redis call goes through :meth:`Conn.call`, which turns driver failures into
:class:`StoreUnavailable`, so the API can answer 503 (never a misleading 404 or 410) while
Redis is away. Nothing Redis holds is cached here except ``_where`` (see :class:`Store`),
which is only a guess that every path corrects.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import msgspec

from service.models import HeartbeatRequest
from service.settings import Settings, Thresholds
from service.store.client import AnyRedis, make_client
from service.store.conn import Conn
from service.store.corrupt import CorruptHook, log_corrupt
from service.store.gate import Gate
from service.store.keys import DEFAULT_NAMESPACE, Keys
from service.store.reads import Reads
from service.store.records import encode_agent, epoch_tag, owner_tag
from service.store.results import (
    AgentRow,
    EventRow,
    HeartbeatResult,
    NotOwner,
    SweepStats,
    Touch,
)

log = logging.getLogger("service.store")
_json = msgspec.json.Encoder()

__all__ = ["AgentRow", "EventRow", "HeartbeatResult", "Store", "SweepStats", "Touch"]


def _s(value: Any) -> str:
    """Redis replies are bytes (no decode_responses); scripts may also return numbers."""
    return value.decode() if isinstance(value, bytes) else str(value)


# Bound on the ``_where`` guesses kept (least recently used dropped first).
_WHERE_MAX = 200_000


class Store(Reads):
    """Domain operations of the registry over one Redis deployment.

    ``_where`` maps agent ids to the namespace this replica last saw them in. A HEAD names
    only the agent id, and without the guess a HEAD of an agent outside the default
    namespace would cost a locator lookup every time instead of one EVALSHA. It is kept
    because it cannot go wrong in a way that sticks: a wrong or outdated guess (the agent
    moved, or Redis lost everything) makes the script find no agent there, and every path
    that uses it (touch, get_agent, unregister) then reads the locator, retries in the
    namespace Redis names, and corrects the guess. A guess is never taken as proof that an
    agent exists (tests/integration/test_store_contract.py proves the recovery).
    """

    def __init__(
        self,
        client: AnyRedis,
        keys: Keys,
        *,
        events_maxlen: int = 10_000,
        gate: Gate | None = None,
        on_corrupt: CorruptHook = log_corrupt,
    ) -> None:
        self.conn = Conn(client, gate)
        self.client = client
        self.keys = keys
        self.events_maxlen = events_maxlen
        self.scripts = self.conn.scripts
        self.on_corrupt = on_corrupt
        self._where: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """Build a store for the configured Redis topology (or the embedded one)."""
        gate = Gate(settings.redis_pool_size, settings.redis_queue, settings.redis_timeout)
        return cls(
            make_client(settings),
            Keys(settings.key_prefix),
            events_maxlen=settings.events_maxlen,
            gate=gate,
        )

    async def close(self) -> None:
        """Close the connection pool (and, in Sentinel mode, the sentinels' connections)."""
        await self.client.aclose()
        manager = getattr(getattr(self.client, "connection_pool", None), "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()

    def _remember(self, agent_id: str, ns: str) -> None:
        self._where[agent_id] = ns
        self._where.move_to_end(agent_id)
        if len(self._where) > _WHERE_MAX:
            self._where.popitem(last=False)

    def _guess(self, agent_id: str) -> str:
        return self._where.get(agent_id, DEFAULT_NAMESPACE)

    async def _locate(self, agent_id: str) -> str:
        """The agent's namespace as Redis records it (the locator); corrects the guess."""
        raw = await self.conn.call(self.client.hget(self.keys.locator(), agent_id))
        ns = _s(raw) if raw else DEFAULT_NAMESPACE
        self._remember(agent_id, ns)
        return ns

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless Redis answers."""
        await self.conn.call(self.client.ping())

    async def heartbeat(
        self,
        req: HeartbeatRequest,
        *,
        thresholds: Thresholds,
        profile: str,
        epoch: str,
        now_ms: int,
        owner: str = "",
        cohort: str = "-",
    ) -> HeartbeatResult:
        """Register or refresh an agent and fetch its candidates: one EVALSHA in steady state.

        ``owner`` (the caller's identity; "" with auth off) must be the identity the id is
        bound to, anywhere in the registry: a new id is first looked up in the namespace
        the locator names (a registration costs two more round trips; a heartbeat none).
        Raises :class:`NotOwner` when another identity holds the id, changing nothing.
        Every round trip of it shares one deadline (``REGISTRY_REDIS_TIMEOUT``).
        """
        with self.conn.gate.bounded():
            return await self._heartbeat(req, thresholds, profile, epoch, now_ms, owner, cohort)

    async def _heartbeat(
        self,
        req: HeartbeatRequest,
        thresholds: Thresholds,
        profile: str,
        epoch: str,
        now_ms: int,
        owner: str,
        cohort: str,
    ) -> HeartbeatResult:
        k, ns = self.keys, req.namespace
        enc = encode_agent(req, profile=profile, now_ms=now_ms, owner=owner)
        local_deps: list[str] = []
        remote_deps: list[tuple[str, str]] = []
        for tool in req.tools:
            for dep in tool.dependencies:
                dns = dep.namespace or ns
                if dns == ns:
                    if dep.capability not in local_deps:
                        local_deps.append(dep.capability)
                elif (dns, dep.capability) not in remote_deps:
                    remote_deps.append((dns, dep.capability))
        names = enc.provided + local_deps
        _, live_prefix, prov_prefix = k.prefixes(ns)
        keys = [
            *k.agent_lifecycle(ns, req.agent_id),
            *(k.providers(ns, c) for c in names),
            k.assignment(ns, req.agent_id),
        ]
        args: list[Any] = [
            req.agent_id,
            enc.doc,
            int(thresholds.expire_after * 1000),
            int(thresholds.degraded_after * 1000),
            int(thresholds.retention * 1000),
            self.events_maxlen,
            len(enc.provided),
            _json.encode(enc.entries),
            enc.fingerprint,
            live_prefix,
            prov_prefix,
            epoch_tag(epoch) or "-",
            _json.encode(names),
            owner_tag(owner),
            "0",
            cohort,
            "1" if req.config_version is None else "0",
        ]
        out = await self.conn.run(self.scripts.heartbeat, keys, args, batch=True)
        kind = _s(out[0])
        if kind == "claim":
            # New here: the id may live in another namespace, bound to someone else.
            await self._check_elsewhere(req.agent_id, ns, owner_tag(owner))
            args[14] = "1"  # ARGV[15]: checked
            out = await self.conn.run(self.scripts.heartbeat, keys, args)
            kind = _s(out[0])
        if kind == "forbidden":
            raise NotOwner(req.agent_id)
        candidates = {
            cap: await self._candidates(ns, cap, rows)
            for cap, rows in zip(local_deps, out[2:], strict=True)
        }
        for dns, cap in remote_deps:
            candidates.setdefault(cap, []).extend(await self.providers(dns, cap))
        if kind == "register":
            await self._registered(req.agent_id, ns)
        self._remember(req.agent_id, ns)
        assignment, corrupt = await self._assignment(ns, req.agent_id, out[1])
        return HeartbeatResult(kind, candidates, assignment, corrupt)

    async def _registered(self, agent_id: str, ns: str) -> None:
        """First registration: index the namespace; drop a copy left in another namespace.

        One pipeline, on registration only (never on a steady-state heartbeat). The
        namespace is added to the global set every time, not once per process: after Redis
        lost its data, the re-registrations are what put the namespaces back. The global
        keys carry no hash tag, so this cannot live in the per-namespace heartbeat script.
        """
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(k.locator(), agent_id)
        if ns != DEFAULT_NAMESPACE:
            pipe.hset(k.locator(), agent_id, ns)
        else:
            pipe.hdel(k.locator(), agent_id)
        pipe.sadd(k.namespaces(), ns)
        raw = (await self.conn.call(pipe.execute()))[0]
        previous = _s(raw) if raw else DEFAULT_NAMESPACE
        if previous != ns:
            await self._unregister_in(previous, agent_id)

    async def _check_elsewhere(self, agent_id: str, ns: str, tag: str) -> None:
        """Raise :class:`NotOwner` when the id is registered in another namespace (the one
        the locator names) under another owner: ownership covers an id across namespaces."""
        other = await self._locate(agent_id)
        if other == ns:
            return
        k = self.keys
        bound = await self.conn.run(
            self.scripts.owner_of, [k.live(other, agent_id), k.doc(other, agent_id)], []
        )
        if bound and _s(bound) != tag:
            raise NotOwner(agent_id)

    async def touch(
        self, agent_id: str, *, epoch: str = "", owner: str = "", rollout: str = ""
    ) -> Touch:
        """The cheap heartbeat: refresh the TTL and report whether a full POST is needed.

        ``owner`` is checked in the same script: another identity's agent gets FORBIDDEN.
        ``rollout`` is the running config rollout's spec (see ``touch.lua``), "" for none.
        Both round trips (a wrong guess costs a second) share one deadline.
        """
        with self.conn.gate.bounded():
            return await self._touch(agent_id, epoch, owner, rollout)

    async def _touch(self, agent_id: str, epoch: str, owner: str, rollout: str) -> Touch:
        ns = self._guess(agent_id)
        tag = owner_tag(owner)
        result = await self._touch_in(ns, agent_id, epoch_tag(epoch), tag, rollout)
        if result is Touch.GONE:
            # A wrong guess (a replica that never saw the agent guesses the default
            # namespace; the agent moved; Redis lost it) looks like GONE: confirm.
            real = await self._locate(agent_id)
            if real != ns:
                result = await self._touch_in(real, agent_id, epoch_tag(epoch), tag, rollout)
        return result

    async def _touch_in(
        self, ns: str, agent_id: str, epoch: str, owner: str, rollout: str
    ) -> Touch:
        k = self.keys
        keys = [
            k.live(ns, agent_id),
            k.doc(ns, agent_id),
            k.capver(ns),
            k.due(ns),
            k.degraded(ns),
            k.events(ns),
        ]
        code = await self.conn.run(
            self.scripts.touch,
            keys,
            [agent_id, epoch, self.events_maxlen, owner, rollout],
            batch=True,
        )
        return Touch(int(code))

    async def unregister(self, agent_id: str, owner: str = "") -> bool:
        """Remove an agent; its consumers are told to re-POST by their next HEAD.

        Raises :class:`NotOwner` (changing nothing) when ``owner`` is not the agent's.
        """
        ns = self._guess(agent_id)
        tag = owner_tag(owner)
        removed = await self._unregister_in(ns, agent_id, tag)
        if not removed:
            real = await self._locate(agent_id)  # the guess was wrong or outdated
            if real != ns:
                ns, removed = real, await self._unregister_in(real, agent_id, tag)
        if removed and ns != DEFAULT_NAMESPACE:
            await self.conn.call(self.client.hdel(self.keys.locator(), agent_id))
        self._where.pop(agent_id, None)
        return removed

    async def _unregister_in(self, ns: str, agent_id: str, owner: str = "") -> bool:
        k = self.keys
        keys = [*k.agent_lifecycle(ns, agent_id), *k.agent_leftovers(ns, agent_id)]
        done = await self.conn.run(
            self.scripts.unregister,
            keys,
            [agent_id, k.prefixes(ns)[2], self.events_maxlen, owner],
        )
        if int(done) < 0:
            raise NotOwner(agent_id)
        return bool(done)

    async def set_owner(self, agent_id: str, owner: str) -> bool:
        """Bind (or with ``""`` release) an agent id: admin transfer and release. False when
        the agent is not registered."""
        row = await self.get_agent(agent_id)
        if row is None:
            return False
        k, ns = self.keys, row.doc.ns
        doc = msgspec.json.encode(msgspec.structs.replace(row.doc, own=owner))
        done = await self.conn.run(
            self.scripts.set_owner,
            [k.live(ns, agent_id), k.doc(ns, agent_id)],
            [doc, owner_tag(owner)],
        )
        return bool(done)

    async def get_agent(self, agent_id: str) -> AgentRow | None:
        """One agent with its liveness, or ``None`` if unknown or purged."""
        ns = self._guess(agent_id)
        rows = await self._read(ns, ["ids", agent_id])
        if not rows:
            real = await self._locate(agent_id)
            if real != ns:
                rows = await self._read(real, ["ids", agent_id])
        return rows[0] if rows else None
