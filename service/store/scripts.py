"""Every Lua script of the store, loaded from ``lua/*.lua`` once and called by SHA (EVALSHA).

Each script's source is ``lua/prelude.lua`` (the shared helpers) followed by the script's
own file, so its SHA covers both. redis-py's ``Script`` reloads a script transparently when
Redis answers ``NOSCRIPT`` (after a restart, a failover or ``SCRIPT FLUSH``), and the
coalescer does the same for pipelined calls, so callers never see that error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

from redis.commands.core import AsyncScript

from service.store.client import AnyRedis

PRELUDE = "prelude"


def _read(name: str) -> str:
    return resources.files("service.store").joinpath("lua", f"{name}.lua").read_text("utf-8")


@cache
def source(name: str) -> str:
    """The full source Redis runs for script ``name``: the prelude, then the script."""
    return f"{_read(PRELUDE)}\n{_read(name)}"


@dataclass(frozen=True, slots=True)
class Scripts:
    """The registered scripts of one client: one field per ``lua/<name>.lua``."""

    # Agents (Store).
    heartbeat: AsyncScript
    touch: AsyncScript
    unregister: AsyncScript
    sweep: AsyncScript
    providers: AsyncScript
    read_agents: AsyncScript
    read_index: AsyncScript
    read_capabilities: AsyncScript
    read_protection: AsyncScript
    owner_of: AsyncScript
    set_owner: AsyncScript
    note_corrupt: AsyncScript
    # Fleet config (ConfigStore).
    publish_bundle: AsyncScript
    claim_active: AsyncScript
    rollout_decide: AsyncScript
    assign_capabilities: AsyncScript
    note_once: AsyncScript
    lead: AsyncScript

    @classmethod
    def register(cls, client: AnyRedis) -> Scripts:
        """Register every script with ``client`` (no round trip until first use)."""
        return cls(**{f.name: client.register_script(source(f.name)) for f in fields(cls)})

    @classmethod
    def names(cls) -> list[str]:
        """The script names, one per ``.lua`` file besides the prelude."""
        return [f.name for f in fields(cls)]
