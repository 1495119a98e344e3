"""The one threshold rule: ``0 < heartbeat_interval < degraded_after < expire_after`` and
``retention >= 0``, all in seconds.

:func:`threshold_problems` names every field a broken rule involves, so the settings report
environment variables and the build reports file locations from the same check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FIELDS",
    "RULE",
    "ThresholdError",
    "ThresholdProblem",
    "Thresholds",
    "threshold_problems",
]

FIELDS = ("heartbeat_interval", "degraded_after", "expire_after", "retention")
RULE = "0 < {heartbeat_interval} < {degraded_after} < {expire_after} and {retention} >= 0"


@dataclass(frozen=True, slots=True)
class ThresholdProblem:
    """One broken part of the rule: the fields involved (the one to change first) and why."""

    fields: tuple[str, ...]
    message: str


class ThresholdError(ValueError):
    """Thresholds that break the rule; ``problems`` lists every broken part."""

    def __init__(self, problems: list[ThresholdProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _num(value: float) -> str:
    return f"{value:g}"


def threshold_problems(
    values: Mapping[str, float], names: Mapping[str, str] | None = None
) -> list[ThresholdProblem]:
    """Every broken part of the rule for ``values`` (all of :data:`FIELDS`); empty when valid.

    Messages call each field by ``names[field]`` (an environment variable, say), else by
    its own name. A NaN breaks every comparison it is in.
    """
    n = {f: (names or {}).get(f, f) for f in FIELDS}
    hb, deg, exp, ret = (values[f] for f in FIELDS)
    problems: list[ThresholdProblem] = []

    def broken(fields: tuple[str, ...], message: str) -> None:
        problems.append(ThresholdProblem(fields, message))

    if not hb > 0:
        broken(("heartbeat_interval",), f"{n['heartbeat_interval']} ({_num(hb)}) must be > 0")
    if not deg > hb:
        broken(
            ("degraded_after", "heartbeat_interval"),
            f"{n['degraded_after']} ({_num(deg)}) must exceed "
            f"{n['heartbeat_interval']} ({_num(hb)})",
        )
    if not exp > deg:
        broken(
            ("expire_after", "degraded_after"),
            f"{n['expire_after']} ({_num(exp)}) must exceed {n['degraded_after']} ({_num(deg)})",
        )
    if not ret >= 0:
        broken(("retention",), f"{n['retention']} ({_num(ret)}) must be >= 0")
    return problems


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Health timer thresholds for one agent profile, in seconds; raises ``ThresholdError``."""

    heartbeat_interval: float = 5.0
    degraded_after: float = 10.0
    expire_after: float = 20.0
    retention: float = 300.0

    def __post_init__(self) -> None:
        problems = threshold_problems(self.to_dict())
        if problems:
            raise ThresholdError(problems)

    def to_dict(self) -> dict[str, float]:
        """The thresholds as stored in bundle manifests and profile payloads."""
        return {
            "heartbeat_interval": self.heartbeat_interval,
            "degraded_after": self.degraded_after,
            "expire_after": self.expire_after,
            "retention": self.retention,
        }

    @classmethod
    def merged(
        cls, data: Mapping[str, Any], *, fallback: Thresholds | None = None
    ) -> dict[str, float]:
        """``data`` over ``fallback`` (or the defaults) as floats, not yet checked."""
        base = (fallback or cls()).to_dict()
        return {key: float(data.get(key, value)) for key, value in base.items()}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, fallback: Thresholds | None = None
    ) -> Thresholds:
        """Build thresholds from a mapping; missing keys come from ``fallback``."""
        return cls(**cls.merged(data, fallback=fallback))
