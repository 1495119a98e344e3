"""``/config``: the fleet-active bundle (manifest, profiles, catalog), its published versions
with the activation history, and the diff between any two published versions."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller
from litestar.params import PathParameter, QueryParameter

from service.bundle_diff import BundleDiff
from service.registry import config, rollout_admin
from service.registry.config import VersionsView
from service.registry.rollout_admin import RolloutView

from .wiring import Reg, get, problems

_Profile = Annotated[str, PathParameter(max_length=63, description="Profile name")]
_From = Annotated[
    str, QueryParameter(name="from", min_length=1, max_length=80, description="sha256:<hex>")
]
_To = Annotated[
    str, QueryParameter(name="to", min_length=1, max_length=80, description="sha256:<hex>")
]


class ConfigController(Controller):
    """Read-only views of the fleet-active bundle and the published versions."""

    path = "/config"
    tags = ["config"]

    @get("/active", summary="The active bundle's manifest", responses=problems(404))
    async def active(self, reg: Reg) -> dict[str, Any]:
        """The manifest: version (sha256 of the content), git provenance, environment."""
        return config.manifest(reg)

    @get(
        "/profiles/{name:str}",
        summary="One profile's config payload",
        responses=problems(400, 404),
    )
    async def profile(
        self,
        reg: Reg,
        name: Annotated[str, PathParameter(max_length=63, description="Profile name")],
    ) -> dict[str, Any]:
        """The rendered payload of profile ``name``, thresholds included."""
        return config.profile_payload(reg, name)

    @get("/capabilities", summary="The capability catalog", responses=problems(404))
    async def capabilities(self, reg: Reg) -> dict[str, Any]:
        """The capability catalog built with the bundle."""
        return config.catalog(reg)

    @get(
        "/versions",
        summary="Published versions, live claims and activation history",
        responses=problems(404, 503),
    )
    async def versions(self, reg: Reg) -> VersionsView:
        """What Redis holds: every published version, the live claims, the activations."""
        return await config.versions(reg)

    @get(
        "/diff",
        summary="Semantic diff between two published versions",
        responses=problems(400, 404, 503),
    )
    async def diff(
        self,
        reg: Reg,
        from_version: _From,
        to_version: _To,
    ) -> BundleDiff:
        """Per-profile changed JSON pointers, catalog changes, and whether a restart is due."""
        return await config.diff(reg, from_version, to_version)

    @get(
        "/rollout",
        summary="The config rollout: step, cohorts, gate signals, decisions",
        responses=problems(404, 503),
    )
    async def rollout(self, reg: Reg) -> RolloutView:
        """The latest rollout (``state: none`` without one); while it is open, each
        profile's candidate and baseline cohorts and every gate signal against its threshold
        (an O(agents) read), and the decision history with reasons."""
        return await rollout_admin.status(reg)
