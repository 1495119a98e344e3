"""Config rollouts: the policy a bundle carries, who is in the canary, and the gate's rule.

Defined once: ``buildtime`` validates policies with :func:`policy_problems`, replicas parse
them with :func:`Policy.parse`, place agents with :func:`entry_step`, and the gate leader
judges cohorts with :func:`judge`.

A policy lives in the manifest (``defaults.rollout``, from the values' ``defaults.rollout``);
a profile may override its shares and gate thresholds with a ``rollout`` key in its payload.
Shares are percentages of a profile's agents; the last step is always 100.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = [
    "BASIS",
    "Breach",
    "Cohort",
    "Gate",
    "Policy",
    "PolicyProblem",
    "Step",
    "bucket",
    "entry_step",
    "judge",
    "policy_problems",
]

BASIS = 10_000  # buckets: shares are compared in hundredths of a per cent


class Step(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One step: ``share`` per cent of the agents on the candidate, held before promotion.

    The hold is ``hold_seconds`` when given, else ``hold_intervals`` heartbeat intervals (of
    the bundle's default thresholds), so every agent of the cohort heartbeats that often.
    """

    share: float
    hold_intervals: int = 3
    hold_seconds: float | None = None


class Gate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Thresholds of the gate (rates are fractions of the cohort, 0..1).

    ``max_failure_rate`` caps the candidate cohort's apply failures; the ``*_excess`` ones cap
    how far the candidate cohort's degraded, expired and restart rates may exceed the
    baseline's. A cohort smaller than ``min_sample`` is judged on counts instead (see
    :func:`judge`).
    """

    max_failure_rate: float = 0.05
    max_degraded_excess: float = 0.10
    max_expired_excess: float = 0.05
    max_restart_excess: float = 0.10
    min_sample: int = 10
    small_sample_allowance: int = 0


class ProfileOverride(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A profile's ``rollout`` key: its own shares per step and gate thresholds."""

    shares: list[float] | None = None
    gate: dict[str, float] | None = None


class Policy(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A bundle's rollout policy (``manifest.defaults.rollout``)."""

    steps: list[Step]
    gate: Gate = Gate()
    check_seconds: float | None = None  # gate period; default: the heartbeat interval

    @classmethod
    def parse(cls, raw: Any) -> Policy | None:
        """The policy in a manifest's ``defaults.rollout``; ``None`` when there is none.

        Raises :class:`ValueError` naming the problem for one that breaks the rule (a
        verified bundle never holds one: the build refuses it).
        """
        if raw is None:
            return None
        problems = policy_problems(raw)
        if problems:
            raise ValueError("; ".join(f"{p.pointer}: {p.message}" for p in problems))
        return msgspec.convert(raw, cls)

    def shares_for(self, override: Mapping[str, Any] | None) -> tuple[float, ...]:
        """The shares of a profile whose payload has ``rollout`` = ``override``."""
        own = (override or {}).get("shares")
        return tuple(own) if own else tuple(s.share for s in self.steps)

    def gate_for(self, override: Mapping[str, Any] | None) -> Gate:
        """The gate thresholds of a profile whose payload has ``rollout`` = ``override``."""
        own = (override or {}).get("gate")
        return msgspec.structs.replace(self.gate, **own) if own else self.gate

    def hold_ms(self, step: int, heartbeat_interval: float) -> int:
        """How long step ``step`` is held before a clean gate promotes it."""
        s = self.steps[step]
        seconds = (
            s.hold_seconds if s.hold_seconds is not None else s.hold_intervals * heartbeat_interval
        )
        return int(seconds * 1000)

    def check_ms(self, heartbeat_interval: float) -> int:
        """The gate's period."""
        return int((self.check_seconds or heartbeat_interval) * 1000)


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One way a policy breaks the rule: a JSON pointer into it and why."""

    pointer: str
    message: str


def _shares_problems(shares: Sequence[Any], pointer: str, at: str) -> list[PolicyProblem]:
    out: list[PolicyProblem] = []
    last = 0.0
    for i, share in enumerate(shares):
        if not isinstance(share, int | float) or isinstance(share, bool) or math.isnan(share):
            out.append(PolicyProblem(f"{pointer}/{i}{at}", "a share is a number of per cent"))
            return out
        if not 0 < share <= 100:
            out.append(PolicyProblem(f"{pointer}/{i}{at}", f"share {share:g} is not in (0, 100]"))
        elif share <= last:
            out.append(
                PolicyProblem(f"{pointer}/{i}{at}", f"share {share:g} does not grow past {last:g}")
            )
        last = float(share)
    if shares and last != 100:
        out.append(
            PolicyProblem(f"{pointer}/{len(shares) - 1}{at}", "the last step's share must be 100")
        )
    return out


def policy_problems(
    raw: Any, overrides: Mapping[str, Any] | None = None, *, pointer: str = ""
) -> list[PolicyProblem]:
    """Every way ``raw`` (a policy) and the profiles' ``overrides`` break the rule.

    Beyond the JSON Schema: shares grow strictly and end at 100, and a profile's own shares
    have one entry per step. ``overrides`` maps profile name -> its payload's ``rollout``.
    """
    try:
        policy = msgspec.convert(raw, Policy)
    except msgspec.ValidationError as exc:
        return [PolicyProblem(pointer or "/", str(exc))]
    out = []
    if not policy.steps:
        out.append(PolicyProblem(f"{pointer}/steps", "a policy has at least one step"))
    out += _shares_problems([s.share for s in policy.steps], f"{pointer}/steps", "/share")
    for i, s in enumerate(policy.steps):
        if s.hold_intervals < 1 or (s.hold_seconds is not None and s.hold_seconds < 0):
            out.append(PolicyProblem(f"{pointer}/steps/{i}", "a hold is at least one interval"))
    for name, value in (msgspec.structs.asdict(policy.gate)).items():
        if value < 0 or (name.startswith("max_") and value > 1):
            out.append(PolicyProblem(f"{pointer}/gate/{name}", f"{value:g} is out of range"))
    for profile, override in sorted((overrides or {}).items()):
        if override is None:
            continue
        try:
            own = msgspec.convert(override, ProfileOverride)
        except msgspec.ValidationError as exc:
            out.append(PolicyProblem(f"/profiles/{profile}/rollout", str(exc)))
            continue
        if own.shares is not None:
            where = f"/profiles/{profile}/rollout/shares"
            if len(own.shares) != len(policy.steps):
                out.append(
                    PolicyProblem(where, f"{len(own.shares)} shares for {len(policy.steps)} steps")
                )
            out += _shares_problems(own.shares, where, "")
        for key in own.gate or {}:
            if key not in Gate.__struct_fields__:
                out.append(
                    PolicyProblem(f"/profiles/{profile}/rollout/gate/{key}", "unknown threshold")
                )
    return out


def bucket(profile: str, agent_id: str, rollout_id: str) -> int:
    """The agent's stable place in ``[0, BASIS)`` for one rollout.

    A hash of ``(profile, agent_id, rollout_id)``: every replica computes the same place,
    it never changes within a rollout, and each rollout draws a different canary.
    """
    digest = hashlib.blake2b(
        f"{rollout_id}\0{profile}\0{agent_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") % BASIS


def entry_step(place: int, shares: Sequence[float]) -> int:
    """The first step whose share covers ``place``: the agent is on the candidate from it on.

    Shares only grow within a rollout, so an agent once in the canary stays in it.
    """
    for i, share in enumerate(shares):
        if place < round(share * BASIS / 100):
            return i
    return len(shares) - 1


@dataclass(frozen=True, slots=True)
class Cohort:
    """What the gate counts in one cohort of one profile (agents reporting a version)."""

    agents: int = 0
    applied: int = 0  # report the cohort's version, applied
    failed: int = 0  # report the cohort's version, failed to apply
    degraded: int = 0
    expired: int = 0  # expired since the rollout started
    restarted: int = 0  # registered again since the rollout started


@dataclass(frozen=True, slots=True)
class Breach:
    """One gate signal past its threshold."""

    signal: str  # failures, degraded, expired, restarts
    candidate: float  # the candidate cohort's rate (or count, for a small cohort)
    baseline: float
    threshold: float
    on_counts: bool

    def reason(self) -> str:
        """One line for the event and the decision history."""
        if self.on_counts:
            return (
                f"{self.signal}: {self.candidate:g} in a small candidate cohort,"
                f" allowed {self.threshold:g}"
            )
        return (
            f"{self.signal}: candidate {self.candidate:.3f} vs baseline {self.baseline:.3f},"
            f" allowed {self.threshold:.3f}"
        )


SIGNALS = ("failures", "degraded", "expired", "restarts")


def signal_values(c: Cohort) -> dict[str, int]:
    """The count behind each signal."""
    return {
        "failures": c.failed,
        "degraded": c.degraded,
        "expired": c.expired,
        "restarts": c.restarted,
    }


def judge(gate: Gate, candidate: Cohort, baseline: Cohort) -> list[Breach]:
    """Every signal of ``candidate`` past its threshold (empty: the step is clean).

    The rule:

    - A cohort of at least ``min_sample`` agents is judged on rates. Apply failures breach
      when ``failed / agents`` exceeds ``max_failure_rate``; degraded, expired and restarts
      breach when the candidate's rate exceeds the baseline's by more than its ``*_excess``.
    - A smaller cohort is judged on counts: a signal breaches when its count exceeds what the
      baseline's rate predicts for a cohort that size (rounded up; none for failures, which
      the baseline cannot have) by more than ``small_sample_allowance``.
    - An empty cohort breaches nothing.
    """
    if candidate.agents == 0:
        return []
    cand, base = signal_values(candidate), signal_values(baseline)
    limits = {
        "failures": gate.max_failure_rate,
        "degraded": gate.max_degraded_excess,
        "expired": gate.max_expired_excess,
        "restarts": gate.max_restart_excess,
    }
    out = []
    for name in SIGNALS:
        base_rate = (
            0.0 if name == "failures" or not baseline.agents else base[name] / baseline.agents
        )
        if candidate.agents >= gate.min_sample:
            rate = cand[name] / candidate.agents
            if name == "failures" and rate > limits[name]:
                out.append(Breach(name, rate, 0.0, limits[name], False))
            elif name != "failures" and rate - base_rate > limits[name]:
                out.append(Breach(name, rate, base_rate, base_rate + limits[name], False))
        else:
            allowed = math.ceil(base_rate * candidate.agents) + gate.small_sample_allowance
            if cand[name] > allowed:
                out.append(Breach(name, cand[name], base_rate, allowed, True))
    return out
