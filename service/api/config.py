"""``/config``: the configuration bundle this replica serves (manifest, profiles, catalog)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath

from service.bundle import Bundle
from service.errors import NotFound

from .deps import Registry


def _bundle(state: State) -> Bundle:
    bundle = Registry.of(state).bundle
    if bundle is None:
        raise NotFound(
            "no configuration bundle is loaded (REGISTRY_BUNDLE_DIR is unset)",
            field="REGISTRY_BUNDLE_DIR",
        )
    return bundle


class ConfigController(Controller):
    """Read-only views of the baked, verified bundle."""

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
