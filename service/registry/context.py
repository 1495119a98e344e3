"""The registry context: what every use-case needs, built once per replica."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from service.bundle import Bundle
from service.domain.profiles import Profiles
from service.registry.access import Access
from service.registry.fleet import FleetConfig
from service.settings import Settings
from service.store.store import Store


@dataclass(slots=True)
class Registry:
    """One replica's view of the registry: settings, the store and the fleet-active config.

    ``profiles`` (per-profile thresholds and the config epoch) is derived from the
    fleet-active bundle and replaced whenever it changes; the bundle itself is only ever
    read from :attr:`fleet`, so there is one copy of "what is active".
    """

    settings: Settings
    store: Store
    profiles: Profiles
    access: Access
    fleet: FleetConfig | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def bundle(self) -> Bundle | None:
        """The fleet-active bundle (``None`` when the replica serves no bundle)."""
        return self.fleet.active if self.fleet is not None else None

    @property
    def uptime_seconds(self) -> int:
        """Whole seconds since this replica started."""
        return int(time.monotonic() - self.started)
