"""``/admin``: capability injection and the config pin. Admins only (one guard for the group).

Without ``REGISTRY_ADMIN_TOKEN`` every route answers 403; without a bundle, 404 naming
``REGISTRY_BUNDLE_DIR`` (both before the body is read).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from service.domain.catalog import ValidationResult
from service.registry import admin, agents, rollout_admin
from service.registry.admin import (
    AvailableCapabilities,
    CapabilitiesBody,
    CapabilitiesReset,
    CapabilitiesUpdated,
    PinBody,
    PinState,
)
from service.registry.agents import OwnerBody, Ownership
from service.registry.rollout_admin import REASON_MAX_LENGTH, Action, RolloutView

from .params import AgentIdPath
from .wiring import JsonBody, Reg, bundle_guard, get, problems

_ERRORS = problems(400, 401, 403, 404, 422, 503)


class AdminController(Controller):
    """Change what agents run; delivered in their next heartbeat answer."""

    path = "/admin"
    tags = ["admin"]
    guards = [bundle_guard]  # after the admin guard of its route group

    @put(
        "/agents/{agent_id:str}/capabilities",
        summary="update_agent_capabilities",
        dto=JsonBody[CapabilitiesBody],
        return_dto=None,
        responses=_ERRORS,
    )
    async def update_agent_capabilities(
        self, reg: Reg, agent_id: AgentIdPath, data: JSONBody[CapabilitiesBody]
    ) -> CapabilitiesUpdated:
        """Assign capabilities (validated against the active catalog) to a registered agent."""
        return await admin.assign_agent_capabilities(reg, agent_id, data)

    @delete(
        "/agents/{agent_id:str}/capabilities",
        status_code=200,
        summary="Back to profile defaults",
        responses=_ERRORS,
    )
    async def reset_agent_capabilities(self, reg: Reg, agent_id: AgentIdPath) -> CapabilitiesReset:
        """Drop the runtime assignment; the agent gets its profile's defaults again."""
        return await admin.reset_agent_capabilities(reg, agent_id)

    @get(
        "/agents/{agent_id:str}/capabilities/available",
        summary="get_available_capabilities",
        responses=_ERRORS,
    )
    async def get_available_capabilities(
        self, reg: Reg, agent_id: AgentIdPath
    ) -> AvailableCapabilities:
        """Catalog capabilities whose required dependencies this agent can satisfy now:
        by itself, or through a live provider of a matching version in its namespace."""
        return await admin.agent_available_capabilities(reg, agent_id)

    @post(
        "/capabilities/validate",
        status_code=200,
        summary="validate_capability_dependencies",
        dto=JsonBody[dict[str, Any]],
        return_dto=None,
        responses=_ERRORS,
    )
    async def validate(self, reg: Reg, data: JSONBody[dict[str, Any]]) -> ValidationResult:
        """Validate a catalog-shaped capability (or ``{"name"}`` of a catalog entry)."""
        return admin.validate_capability(reg, data)

    @put(
        "/config/pin",
        summary="Pin a published version as active (manual override)",
        dto=JsonBody[PinBody],
        return_dto=None,
        responses=_ERRORS,
    )
    async def pin(self, reg: Reg, data: JSONBody[PinBody]) -> PinState:
        """Override the highest-live-revision rule until the pin is deleted."""
        return await admin.pin(reg, data)

    @delete("/config/pin", status_code=200, summary="Remove the pin", responses=_ERRORS)
    async def unpin(self, reg: Reg) -> PinState:
        """Back to the highest live revision."""
        return await admin.unpin(reg)


class RolloutController(Controller):
    """``/admin/config/rollout/{action}``: pause, resume, promote or abort the open rollout."""

    path = "/admin/config/rollout"
    tags = ["admin"]
    guards = [bundle_guard]

    @post(
        "/{action:str}",
        status_code=200,
        summary="Pause, resume, promote (one step now) or abort the open config rollout",
        responses=problems(400, 401, 403, 404, 409, 503),
    )
    async def control(
        self,
        reg: Reg,
        action: Annotated[
            Action,
            PathParameter(description="pause | resume | promote | abort"),
        ],
        reason: Annotated[
            str,
            QueryParameter(
                max_length=REASON_MAX_LENGTH,
                description="Why, for the decision history (default: '<action> by an operator')",
            ),
        ] = "",
    ) -> RolloutView:
        """Abort makes the baseline active for everyone at once (a new generation), and the
        candidate stays refused until another bundle is deployed; promote skips the rest of
        the step's hold (past the last step the candidate becomes active). 409 when no
        rollout is open or the action does not fit its state (resume a running one)."""
        return await rollout_admin.control(reg, action, reason)


class OwnershipController(Controller):
    """``/admin/agents/{id}/owner``: release an id, or transfer it to another identity."""

    path = "/admin/agents/{agent_id:str}/owner"
    tags = ["admin"]

    @put(
        "/",
        summary="Bind an agent id to another identity",
        dto=JsonBody[OwnerBody],
        return_dto=None,
        responses=problems(400, 401, 403, 404, 422, 503),
    )
    async def transfer(
        self, reg: Reg, agent_id: AgentIdPath, data: JSONBody[OwnerBody]
    ) -> Ownership:
        """From now on only ``owner`` may speak for the agent id."""
        return await agents.set_owner(reg, agent_id, data.owner)

    @delete(
        "/",
        status_code=200,
        summary="Release an agent id",
        responses=problems(400, 401, 403, 404, 503),
    )
    async def release(self, reg: Reg, agent_id: AgentIdPath) -> Ownership:
        """The next identity to register the id owns it."""
        return await agents.set_owner(reg, agent_id, "")
