"""The client's local disk cache: last-known config, capabilities, wiring and versions.

Written atomically (a temporary file in the same directory, fsync, ``os.replace``), so a
crash mid-write leaves the previous cache intact and an agent can always start from it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger("service.client")


class AgentState(msgspec.Struct, kw_only=True):
    """What the agent last applied; persisted as JSON.

    ``config_status`` says how applying ``config_version`` went (``applied``, ``failed``
    with ``config_error``). Fields added later default, so an older cache file still loads;
    the status is plain text so that a value it does not know never discards the cache.
    """

    config_version: str | None = None
    config_generation: int = 0
    config_status: str | None = None
    config_error: str | None = None
    config: dict[str, Any] | None = None
    capabilities_version: str | None = None
    capabilities: list[dict[str, Any]] | None = None
    wiring: dict[str, Any] | None = None


_decoder = msgspec.json.Decoder(AgentState)


class DiskCache:
    """One JSON file per agent under ``directory``."""

    def __init__(self, directory: Path, agent_id: str) -> None:
        self.path = Path(directory) / f"{agent_id}.json"

    def load(self) -> AgentState | None:
        """The cached state, or ``None`` when there is none or it is unreadable."""
        try:
            return _decoder.decode(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("ignoring unreadable registry cache %s: %s", self.path, exc)
            return None

    def save(self, state: AgentState) -> None:
        """Replace the cache atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(msgspec.json.encode(state))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
