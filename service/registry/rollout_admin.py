"""Rollout status and manual control: ``GET /config/rollout`` and pause, resume, promote,
abort (admin API, admin MCP tools and the CLI all call these)."""

from __future__ import annotations

from typing import Literal

import msgspec

from service.domain.rollout import Cohort, Signal, signals
from service.errors import Conflict, NotFound
from service.registry.context import Registry
from service.registry.fleet import FleetConfig
from service.registry.rollout import decide, measure
from service.store.records import iso

Action = Literal["pause", "resume", "promote", "abort"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "promote", "abort")
REASON_MAX_LENGTH = 200  # an operator's reason, as the adapters bound it


class StepView(msgspec.Struct, kw_only=True, frozen=True):
    """One step of the policy."""

    share: float
    hold_ms: int


class ProfileView(msgspec.Struct, kw_only=True, frozen=True):
    """Both cohorts of one profile, and its gate signals."""

    profile: str
    share: float
    candidate: Cohort
    baseline: Cohort
    pending: int  # in the candidate cohort, not reporting the candidate yet
    not_gating: int  # live agents that report no version (stock MCP Mesh agents)
    signals: list[Signal]


class DecisionView(msgspec.Struct, kw_only=True, frozen=True):
    """One decision of the rollout log."""

    at: str
    rollout: str
    decision: str
    step: int
    reason: str
    by: str


class RolloutView(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /config/rollout``: the latest rollout, its cohorts and its decisions."""

    state: str  # none running paused complete rolled-back aborted
    id: str | None = None
    candidate: str | None = None
    baseline: str | None = None
    step: int | None = None
    steps: list[StepView] = []
    step_started_at: str | None = None
    started_at: str | None = None
    reason: str | None = None
    profiles: list[ProfileView] = []
    decisions: list[DecisionView] = []


def _fleet(reg: Registry) -> FleetConfig:
    if reg.fleet is None:
        raise NotFound("no configuration bundle is loaded", field="REGISTRY_BUNDLE_DIR")
    return reg.fleet


async def status(reg: Registry) -> RolloutView:
    """The latest rollout as Redis holds it; cohorts are measured while it is open."""
    fleet = _fleet(reg)
    await fleet.refresh("read")
    state = fleet.rollout_state
    decisions = [
        DecisionView(
            at=iso(d.at_ms), rollout=d.rollout, decision=d.decision, step=d.step,
            reason=d.why, by=d.by,
        )
        for d in await fleet.store.decisions()
    ]  # fmt: skip
    if state is None:
        return RolloutView(state="none", decisions=decisions)
    live = fleet.rollout
    candidate = live.candidate if live is not None else await fleet.load(state.candidate)
    policy = candidate.rollout_policy if candidate is not None else None
    steps: list[StepView] = []
    profiles: list[ProfileView] = []
    if policy is not None and candidate is not None:
        hb = candidate.default_thresholds.heartbeat_interval
        steps = [
            StepView(share=s.share, hold_ms=policy.hold_ms(i, hb))
            for i, s in enumerate(policy.steps)
        ]
    if live is not None:
        m = await measure(fleet, reg, live)
        names = sorted({*m.candidate, *m.baseline, *m.not_gating})
        for name in names:
            cand, base = m.candidate.get(name, Cohort()), m.baseline.get(name, Cohort())
            gate = live.policy.gate_for(live.candidate.rollout_override(name))
            shares = live.shares(name)
            profiles.append(
                ProfileView(
                    profile=name,
                    share=shares[min(state.step, len(shares) - 1)],
                    candidate=cand,
                    baseline=base,
                    pending=m.pending.get(name, 0),
                    not_gating=m.not_gating.get(name, 0),
                    signals=signals(gate, cand, base),
                )
            )
    return RolloutView(
        state=state.state,
        id=state.id,
        candidate=state.candidate,
        baseline=state.baseline,
        step=state.step,
        steps=steps,
        step_started_at=iso(state.step_since_ms),
        started_at=iso(state.started_ms),
        reason=state.reason or None,
        profiles=profiles,
        decisions=decisions,
    )


async def control(reg: Registry, action: Action, reason: str = "") -> RolloutView:
    """Pause, resume, promote (one step now) or abort (the baseline for everyone) the open
    rollout; 409 when there is none or the action does not fit its state."""
    fleet = _fleet(reg)
    await fleet.refresh("read")
    live = fleet.rollout
    if live is None:
        raise Conflict("no rollout is running or paused", field="action")
    why = reason or f"{action} by an operator"
    applied, state, _ = await decide(fleet, live, action, why, "operator")
    if not applied:
        raise Conflict(f"cannot {action} a rollout that is {state}", field="action")
    return await status(reg)
