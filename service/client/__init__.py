"""The agent-side client: embed :class:`RegistryClient` to heartbeat and receive config.

It depends on httpx and msgspec only (never on redis or the registry's server code): it
installs alone as the ``agent-registry-client`` distribution (``client/``, docs/client.md).
"""

from service.client.backoff import Backoff
from service.client.cache import AgentState, DiskCache
from service.client.client import (
    RESTART_EXIT_CODE,
    ConfigUpdate,
    RegistryClient,
    RestartRequired,
)
from service.client.credentials import Credentials
from service.client.discovery import DiscoveryError

__all__ = [
    "RESTART_EXIT_CODE",
    "AgentState",
    "Backoff",
    "ConfigUpdate",
    "Credentials",
    "DiscoveryError",
    "DiskCache",
    "RegistryClient",
    "RestartRequired",
]
