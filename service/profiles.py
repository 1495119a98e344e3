"""Per-profile health thresholds: settings defaults, replaced per profile by the bundle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service.settings import Thresholds


@dataclass(frozen=True, slots=True)
class Profiles:
    """Looks up an agent profile's thresholds; unknown profiles get the defaults."""

    defaults: Thresholds = field(default_factory=Thresholds)
    overrides: Mapping[str, Thresholds] = field(default_factory=dict)
    epoch: str = ""

    def thresholds_for(self, profile: str) -> Thresholds:
        """The thresholds for ``profile`` (the agent's ``profile`` field, else its name)."""
        return self.overrides.get(profile, self.defaults)
