"""Lua scripts, loaded from ``lua/*.lua`` once and called by SHA (EVALSHA).

redis-py's ``Script`` reloads a script transparently when Redis answers ``NOSCRIPT``
(after a restart, a failover or ``SCRIPT FLUSH``), so callers never see that error.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from redis.commands.core import AsyncScript

from service.store.client import AnyRedis


def _source(name: str) -> str:
    return (
        resources.files("service.store").joinpath("lua").joinpath(f"{name}.lua").read_text("utf-8")
    )


@dataclass(frozen=True, slots=True)
class Scripts:
    """The registered scripts of one client."""

    heartbeat: AsyncScript
    touch: AsyncScript
    unregister: AsyncScript
    sweep: AsyncScript
    providers: AsyncScript
    read_agents: AsyncScript

    @classmethod
    def register(cls, client: AnyRedis) -> Scripts:
        """Register every script with ``client`` (no round trip until first use)."""
        return cls(**{name: client.register_script(_source(name)) for name in cls.__slots__})
