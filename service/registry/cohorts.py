"""Which bundle an agent is served during a config rollout: its sticky cohort.

Every replica computes the same answer from the rollout state in Redis (refreshed by
:class:`~service.registry.fleet.FleetConfig`) and the agent's id and profile, with no Redis
call of its own: a POST writes the agent's cohort into its liveness hash (``k``), and the
HEAD script compares it with the step the replica passes (``touch.lua``).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.bundle import Bundle
from service.domain.rollout import Policy, bucket, entry_step
from service.store.config_store import RolloutState
from service.store.records import epoch_tag

NO_ROLLOUT = "-"  # the liveness cohort outside a rollout


@dataclass(frozen=True, slots=True)
class LiveRollout:
    """An open rollout with both bundles in memory."""

    state: RolloutState
    candidate: Bundle
    baseline: Bundle
    policy: Policy

    @property
    def spec(self) -> str:
        """What the HEAD script needs: ``rollout id|step|candidate epoch tag``."""
        return f"{self.state.id}|{self.state.step}|{epoch_tag(self.candidate.version)}"

    def shares(self, profile: str) -> tuple[float, ...]:
        """The profile's share per step (its own override, else the policy's)."""
        return self.policy.shares_for(self.candidate.rollout_override(profile))

    def entry(self, profile: str, agent_id: str) -> int:
        """The step from which the agent is on the candidate."""
        return entry_step(bucket(profile, agent_id, self.state.id), self.shares(profile))


@dataclass(frozen=True, slots=True)
class Served:
    """What one agent is served: a bundle, its generation, and the cohort to store."""

    bundle: Bundle
    generation: int
    cohort: str
    on_candidate: bool = False


def serve(
    rollout: LiveRollout | None, active: Bundle, generation: int, profile: str, agent_id: str,
    reported: str | None,
) -> Served:  # fmt: skip
    """The bundle for an agent that reports ``reported`` (``None``: no version).

    Outside a rollout: the active bundle. Inside one, an agent that reports no version (a
    stock MCP Mesh agent, or a client's first heartbeat) stays on the baseline and is never
    placed; the others are on the candidate from their entry step on, and an agent already
    on the candidate stays there until the rollout ends (a lagging replica cannot move it
    back). The candidate goes out with its own, higher generation.
    """
    if rollout is None:
        return Served(active, generation, NO_ROLLOUT)
    rid = rollout.state.id
    if reported is None:
        return Served(active, generation, f"{rid}:-")
    entry = rollout.entry(profile, agent_id)
    cohort = f"{rid}:{entry}"
    if reported == rollout.candidate.version or rollout.state.step >= entry:
        return Served(rollout.candidate, rollout.state.generation, cohort, on_candidate=True)
    return Served(active, generation, cohort)
