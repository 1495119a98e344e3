"""The agent-side client: embed :class:`RegistryClient` to heartbeat and receive config.

It depends on httpx and msgspec only (never on redis or the registry's server code).
"""

from service.client.backoff import Backoff
from service.client.cache import AgentState, DiskCache
from service.client.client import (
    RESTART_EXIT_CODE,
    ConfigUpdate,
    RegistryClient,
    RestartRequired,
)

__all__ = [
    "RESTART_EXIT_CODE",
    "AgentState",
    "Backoff",
    "ConfigUpdate",
    "DiskCache",
    "RegistryClient",
    "RestartRequired",
]
