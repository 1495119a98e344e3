"""Every Redis key the registry uses is built here, from one prefix and a namespace hash tag.

Each key's type and value layout is in its method's docstring and, all in one table with the
codec that reads it, in ``service/store/SCHEMA.md``.

Per-namespace keys carry the hash tag ``{ns}``, so all keys of one namespace live in one
Redis Cluster slot and every Lua call stays inside it. Two scripts read keys whose names
depend on data they read first (a capability's providers' liveness keys; an agent's old
capabilities): those scripts get the namespace's key *prefixes* from :meth:`Keys.prefixes`
and append an id. The names still come from this module, and the hash tag keeps them in
the slot of the declared keys.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"
# Names of the per-namespace ``noted`` hashes (one field per agent). Listed here so that
# unregistering or purging an agent can drop its field from each of them. ``drift`` holds
# the active version last reported; ``corrupt`` a JSON object of the undecodable values
# already reported (key, or key and field, -> digest).
NOTED = ("drift", "corrupt")


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one registry deployment (one ``REGISTRY_KEY_PREFIX``)."""

    prefix: str = "reg"

    def _ns(self, ns: str) -> str:
        return f"{self.prefix}:{{{ns}}}:"

    # Per agent.
    def doc(self, ns: str, agent_id: str) -> str:
        """STRING: the agent's stored record (JSON). TTL = expire_after + retention."""
        return f"{self._ns(ns)}a:{agent_id}"

    def live(self, ns: str, agent_id: str) -> str:
        """HASH with TTL = expire_after: the liveness key, the agent's hot heartbeat state.

        Fields: ``t`` expire_after ms, ``d`` degraded_after ms, ``r`` retention ms, ``s``
        dependency signature, ``e`` epoch tag (:func:`records.epoch_tag`, or ``-``/``stale``),
        ``c`` dependency capabilities joined with ``,``. Written and read only through the Lua
        prelude (``live_write``/``live_read``); Python decodes ``[t, d, r]`` with
        :meth:`records.Liveness.parse`.
        """
        return f"{self._ns(ns)}l:{agent_id}"

    def agent_lifecycle(self, ns: str, agent_id: str) -> list[str]:
        """KEYS[1..10] of heartbeat.lua and unregister.lua, in the order their headers list."""
        return [
            self.doc(ns, agent_id),
            self.live(ns, agent_id),
            self.ids(ns),
            self.due(ns),
            self.capver(ns),
            self.capindex(ns),
            self.degraded(ns),
            self.expired(ns),
            self.events(ns),
            self.suspect(ns),
        ]

    def agent_leftovers(self, ns: str, agent_id: str) -> list[str]:
        """The agent's state outside its record, dropped when it is unregistered or purged
        (never on a mere expiry): its runtime assignment, then every ``noted`` hash."""
        return [self.assignment(ns, agent_id), *self.noted_hashes(ns)]

    # Per capability.
    def providers(self, ns: str, capability: str) -> str:
        """HASH ``agent_id:function`` -> provider entry, for one capability."""
        return f"{self._ns(ns)}c:{capability}"

    # Per namespace.
    def ids(self, ns: str) -> str:
        """ZSET (all scores 0): every known agent id, for lexical cursor pagination."""
        return f"{self._ns(ns)}ids"

    def due(self, ns: str) -> str:
        """ZSET id -> ms timestamp when the sweeper must next look at the agent."""
        return f"{self._ns(ns)}due"

    def capver(self, ns: str) -> str:
        """HASH capability -> counter bumped when any provider of it joins, changes or leaves."""
        return f"{self._ns(ns)}cv"

    def capindex(self, ns: str) -> str:
        """ZSET (all scores 0): capabilities with at least one provider entry."""
        return f"{self._ns(ns)}caps"

    def degraded(self, ns: str) -> str:
        """SET of agents the sweeper has seen degraded (for events and counts)."""
        return f"{self._ns(ns)}dg"

    def expired(self, ns: str) -> str:
        """SET of agents whose liveness key expired and whose record is retained."""
        return f"{self._ns(ns)}gone"

    def suspect(self, ns: str) -> str:
        """SET of agents whose liveness key expired while mass-expiry protection held them:
        still offered (as ``suspect``) until the protection window ends or they return."""
        return f"{self._ns(ns)}sus"

    def guard(self, ns: str) -> str:
        """STRING ``since_ms|until_ms|reason[|ended]``: the namespace's mass-expiry protection.
        Active while the server clock is before ``until_ms``; the key outlives the window by
        as long again (the cool-down in which protection cannot start again)."""
        return f"{self._ns(ns)}guard"

    def expiring(self, ns: str) -> str:
        """STRING counter of expiries in the current sweep window (PX = one sweep interval)."""
        return f"{self._ns(ns)}xc"

    def events(self, ns: str) -> str:
        """STREAM: capped event history for the namespace."""
        return f"{self._ns(ns)}ev"

    def prefixes(self, ns: str) -> tuple[str, str, str]:
        """(doc, live, providers) prefixes for scripts that derive per-id keys from data."""
        base = self._ns(ns)
        return f"{base}a:", f"{base}l:", f"{base}c:"

    # Global (no hash tag: touched outside namespace scripts).
    def namespaces(self) -> str:
        """SET of namespaces that have ever held an agent."""
        return f"{self.prefix}:namespaces"

    def locator(self) -> str:
        """HASH agent_id -> namespace, for agents outside the default namespace."""
        return f"{self.prefix}:locator"

    def lock(self, name: str) -> str:
        """STRING used as a short-lived lock by background tasks."""
        return f"{self.prefix}:lock:{name}"

    # Fleet config: one fixed hash tag, so every config key shares one Cluster slot and the
    # config scripts never cross slots.
    def _cfg(self) -> str:
        return f"{self.prefix}:{{config}}:"

    def bundle(self, version: str) -> str:
        """HASH relative path -> exact bytes of one published bundle; written once."""
        return f"{self._cfg()}b:{version}"

    def versions(self) -> str:
        """ZSET version -> ms when it was first published."""
        return f"{self._cfg()}versions"

    def claims(self) -> str:
        """ZSET ``revision|version|replica`` -> ms when the replica's claim expires."""
        return f"{self._cfg()}claims"

    def active(self) -> str:
        """STRING ``generation|revision|version|source``: the fleet-active bundle last computed."""
        return f"{self._cfg()}active"

    def pin(self) -> str:
        """STRING: a version an operator pinned as active (manual override), if any."""
        return f"{self._cfg()}pin"

    def recovery(self) -> str:
        """STRING ``floor|deadline_ms``: after a data loss, revisions below ``floor`` may not
        activate until ``deadline_ms`` (expires on its own, ten claim TTLs later)."""
        return f"{self._cfg()}recovery"

    def history(self) -> str:
        """STREAM: capped history of activations (time, revision, version, replica)."""
        return f"{self._cfg()}history"

    def rollout(self) -> str:
        """HASH: the latest config rollout (candidate, baseline, step, state); see SCHEMA.md."""
        return f"{self._cfg()}rollout"

    def rollout_log(self) -> str:
        """STREAM: the rollout decisions (start, promote, pause, rollback ...) with reasons."""
        return f"{self._cfg()}rollout:log"

    def drift_report(self) -> str:
        """STRING JSON: the last fleet-wide drift report, written by the drift leader (TTL)."""
        return f"{self._cfg()}drift"

    def assignment(self, ns: str, agent_id: str) -> str:
        """STRING JSON ``{"v": version, "caps": [...]}``: runtime capability assignment.

        No TTL: it is the one piece of state agents cannot restore (needs Redis AOF). It
        survives an expiry (the agent may come back); unregister and purge delete it.
        """
        return f"{self._ns(ns)}asg:{agent_id}"

    def assignment_prefix(self, ns: str) -> str:
        """Prefix of :meth:`assignment` keys, for the sweep's purge (ids are data there)."""
        return f"{self._ns(ns)}asg:"

    def noted(self, ns: str, name: str) -> str:
        """HASH agent_id -> value already reported for ``name`` (drift and corrupt events
        fire once).

        ``name`` must be one of :data:`NOTED`, so unregister and purge find the agent's field.
        """
        if name not in NOTED:
            raise ValueError(f"unknown noted hash {name!r}: list it in keys.NOTED")
        return f"{self._ns(ns)}noted:{name}"

    def noted_hashes(self, ns: str) -> list[str]:
        """Every ``noted`` hash of ``ns``."""
        return [self.noted(ns, name) for name in NOTED]
