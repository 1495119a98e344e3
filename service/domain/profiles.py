"""Per-profile health thresholds: settings defaults, replaced per profile by the bundle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service.bundle import Bundle
from service.domain.thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class Profiles:
    """Looks up an agent profile's thresholds; unknown profiles get the defaults."""

    defaults: Thresholds = field(default_factory=Thresholds)
    overrides: Mapping[str, Thresholds] = field(default_factory=dict)
    epoch: str = ""

    @classmethod
    def build(cls, defaults: Thresholds, bundle: Bundle | None) -> Profiles:
        """Settings defaults, or with a bundle its defaults and each profile's thresholds."""
        if bundle is None:
            return cls(defaults=defaults)
        overrides = {
            name: t for name in bundle.profiles if (t := bundle.thresholds(name)) is not None
        }
        return cls(defaults=bundle.default_thresholds, overrides=overrides)

    def thresholds_for(self, profile: str) -> Thresholds:
        """The thresholds for ``profile`` (the agent's ``profile`` field, else its name)."""
        return self.overrides.get(profile, self.defaults)
