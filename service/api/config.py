"""``/config``: the fleet-active bundle (manifest, profiles, catalog), its published versions
with the activation history, and the diff between any two published versions."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from service.bundle import Bundle
from service.bundle_diff import diff_bundles
from service.errors import NotFound
from service.fleet_config import FleetConfig
from service.store.records import iso

from .deps import Registry


def _bundle(state: State) -> Bundle:
    bundle = Registry.of(state).bundle
    if bundle is None:
        raise NotFound(
            "no configuration bundle is loaded (REGISTRY_BUNDLE_DIR is unset)",
            field="REGISTRY_BUNDLE_DIR",
        )
    return bundle


def _fleet(state: State) -> FleetConfig:
    fleet = Registry.of(state).fleet
    if fleet is None:
        raise NotFound(
            "no configuration bundle is loaded (REGISTRY_BUNDLE_DIR is unset)",
            field="REGISTRY_BUNDLE_DIR",
        )
    return fleet


class ConfigController(Controller):
    """Read-only views of the fleet-active bundle and the published versions."""

    path = "/config"

    @get("/active", summary="The active bundle's manifest")
    async def active(self, state: State) -> dict[str, Any]:
        """The manifest: version (sha256 of the content), git provenance, environment."""
        return _bundle(state).manifest

    @get("/profiles/{name:str}", summary="One profile's config payload")
    async def profile(self, state: State, name: FromPath[str]) -> dict[str, Any]:
        """The rendered payload of profile ``name``, thresholds included."""
        payload = _bundle(state).profiles.get(name)
        if payload is None:
            raise NotFound(f"profile {name!r} is not in the active bundle", field="name")
        return payload

    @get("/capabilities", summary="The capability catalog")
    async def capabilities(self, state: State) -> dict[str, Any]:
        """The capability catalog built with the bundle."""
        return _bundle(state).catalog

    @get("/versions", summary="Published versions, live claims and activation history")
    async def versions(self, state: State) -> dict[str, Any]:
        """What Redis holds: every published version, the live claims, the activations."""
        fleet = _fleet(state)
        published = await fleet.store.versions()
        claims = await fleet.store.claims()
        history = await fleet.store.history()
        return {
            "active": {
                "version": fleet.active.version,
                "generation": fleet.generation,
                "revision": fleet.active_revision,
                "source": fleet.source,
            },
            "replica": {"revision": fleet.revision, "baked": fleet.baked.version},
            "versions": [
                {"version": v, "published_at": iso(ms) if ms else None}
                for v, ms in reversed(published)
            ],
            "claims": [_claim(member, ms) for member, ms in claims],
            "history": [
                {
                    "at": iso(h.at_ms),
                    "generation": h.generation,
                    "revision": h.revision,
                    "version": h.version,
                    "previous": h.previous or None,
                    "replica": h.replica,
                    "source": h.source,
                }
                for h in history
            ],
        }

    @get("/diff", summary="Semantic diff between two published versions")
    async def diff(
        self,
        state: State,
        from_version: Annotated[str, QueryParameter(name="from", min_length=1, max_length=80)],
        to_version: Annotated[str, QueryParameter(name="to", min_length=1, max_length=80)],
    ) -> Response[bytes]:
        """Per-profile changed JSON pointers, catalog changes, and whether a restart is due."""
        fleet = _fleet(state)
        before = await fleet.load(from_version)
        if before is None:
            raise NotFound(f"version {from_version!r} was never published", field="from")
        after = await fleet.load(to_version)
        if after is None:
            raise NotFound(f"version {to_version!r} was never published", field="to")
        return Response(diff_bundles(before, after).to_json(), media_type="application/json")


def _claim(member: str, expires_ms: int) -> dict[str, Any]:
    revision, version, replica = [*member.split("|", 2), "", ""][:3]
    return {
        "revision": int(revision) if revision.isdigit() else revision,
        "version": version,
        "replica": replica,
        "expires_at": iso(expires_ms),
    }
