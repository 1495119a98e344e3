"""Admin endpoints: capability injection and the config pin. All require the admin token.

Without ``REGISTRY_ADMIN_TOKEN`` they answer 403: an unauthenticated way to change what
agents run is never the default, not even on the embedded store.

The capability operations are plain functions (:func:`assign_agent_capabilities`,
:func:`agent_available_capabilities`, :func:`validate_capability`) that the handlers below and
the MCP tools both call; :func:`check_admin_token` is the one token check of both.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath
from msgspec import Meta

from service.delivery import assignment_version
from service.domain.catalog import (
    ValidationResult,
    available_capabilities,
    catalog_index,
    check_assignment,
    validate_capability_dependencies,
)
from service.domain.matching import parse_constraint, version_matches
from service.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from service.fleet_config import FleetConfig
from service.models import Capability, VersionText

from .deps import Registry, decode_json


class AssignedCapability(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One capability to run: a catalog name and, optionally, one of its versions."""

    name: Capability
    version: VersionText | None = None


class CapabilitiesBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT /admin/agents/{id}/capabilities``."""

    capabilities: Annotated[list[AssignedCapability], Meta(max_length=64)]


class PinBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT /admin/config/pin``: a published bundle version."""

    version: Annotated[str, Meta(pattern=r"^sha256:[0-9a-f]{64}$")]


class PinState(msgspec.Struct, kw_only=True, frozen=True):
    """Answer of the pin endpoints: the pin, and the active bundle it results in."""

    pinned: str | None
    active: str
    generation: int
    source: str


class CapabilitiesUpdated(msgspec.Struct, kw_only=True, frozen=True):
    """Answer of ``update_agent_capabilities``: delivered at the agent's next heartbeat."""

    agent_id: str
    updated: bool
    version: str
    live: bool


class AvailableCapabilities(msgspec.Struct, kw_only=True, frozen=True):
    """Answer of ``get_available_capabilities``: catalog names, sorted."""

    agent_id: str
    capabilities: list[str]


_caps = msgspec.json.Decoder(CapabilitiesBody)
_pin = msgspec.json.Decoder(PinBody)
_any = msgspec.json.Decoder(dict[str, Any])
_enc = msgspec.json.Encoder()


def require_admin(request: Request[Any, Any, Any], reg: Registry) -> None:
    """401 without a bearer token, 403 with a wrong one or when admin is disabled."""
    check_admin_token(request.headers.get("authorization"), reg)


def check_admin_token(authorization: str | None, reg: Registry) -> None:
    """Check an ``Authorization`` header value against ``REGISTRY_ADMIN_TOKEN``.

    :class:`Unauthorized` without a bearer token, :class:`Forbidden` with a wrong one or when
    no admin token is configured.
    """
    token = reg.settings.admin_token
    if token is None:
        raise Forbidden(
            "admin endpoints are disabled: set REGISTRY_ADMIN_TOKEN", field="Authorization"
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send Authorization: Bearer <admin token>", field="Authorization")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("the admin token is not valid", field="Authorization")


def _fleet(reg: Registry) -> FleetConfig:
    if reg.fleet is None:
        raise NotFound(
            "capability injection needs a configuration bundle (REGISTRY_BUNDLE_DIR is unset)",
            field="REGISTRY_BUNDLE_DIR",
        )
    return reg.fleet


async def assign_agent_capabilities(
    reg: Registry, agent_id: str, body: CapabilitiesBody
) -> CapabilitiesUpdated:
    """Assign capabilities (validated against the active catalog) to a registered agent."""
    fleet = _fleet(reg)
    caps = [msgspec.to_builtins(c) for c in body.capabilities]
    problems = check_assignment(caps, fleet.active.catalog)
    if problems:
        field, reason = problems[0]
        raise InvalidInput(f"{field}: {reason}", field=field)
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    version = assignment_version(caps)
    stored = _enc.encode({"v": version, "caps": caps})
    live = await fleet.store.assign(row.doc.ns, agent_id, stored, version)
    return CapabilitiesUpdated(agent_id=agent_id, updated=True, version=version, live=live)


async def agent_available_capabilities(reg: Registry, agent_id: str) -> AvailableCapabilities:
    """Catalog capabilities whose required dependencies this agent can satisfy now:
    by itself, or through a live provider of a matching version in its namespace."""
    fleet = _fleet(reg)
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    catalog = fleet.active.catalog
    needed = {
        str(d["capability"])
        for c in catalog_index(catalog).values()
        for d in c.get("dependencies") or []
    }
    live = {cap: await reg.store.providers(row.doc.ns, cap) for cap in sorted(needed)}

    def has_provider(cap: str, constraint: str | None) -> bool:
        spec = parse_constraint(constraint)
        return any(version_matches(c.entry.version, spec) for c in live.get(cap, []))

    own = [t.capability for t in row.doc.tools]
    return AvailableCapabilities(
        agent_id=agent_id, capabilities=available_capabilities(catalog, has_provider, own)
    )


def validate_capability(reg: Registry, cap: dict[str, Any]) -> ValidationResult:
    """Validate a catalog-shaped capability, or ``{"name"}`` of a catalog entry."""
    fleet = _fleet(reg)
    if not isinstance(cap.get("name"), str) or not cap["name"]:
        raise InvalidInput("name: a capability name is required", field="name")
    if set(cap) == {"name"}:
        entry = catalog_index(fleet.active.catalog).get(cap["name"])
        if entry is None:
            raise NotFound(f"capability {cap['name']!r} is not in the catalog", field="name")
        cap = entry
    return validate_capability_dependencies(cap, fleet.active.catalog)


class AdminController(Controller):
    """``/admin``: change what agents run; delivered in their next heartbeat answer."""

    path = "/admin"

    @put("/agents/{agent_id:str}/capabilities", summary="update_agent_capabilities")
    async def update_agent_capabilities(
        self, request: Request[Any, Any, State], agent_id: FromPath[str]
    ) -> CapabilitiesUpdated:
        """Assign capabilities (validated against the active catalog) to a registered agent."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        _fleet(reg)  # without a bundle: 404 before any body error
        body = decode_json(await request.body(), _caps)
        return await assign_agent_capabilities(reg, agent_id, body)

    @delete(
        "/agents/{agent_id:str}/capabilities", status_code=200, summary="Back to profile defaults"
    )
    async def reset_agent_capabilities(
        self, request: Request[Any, Any, State], agent_id: FromPath[str]
    ) -> dict[str, Any]:
        """Drop the runtime assignment; the agent gets its profile's defaults again."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        fleet = _fleet(reg)
        row = await reg.store.get_agent(agent_id)
        if row is None:
            raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
        live = await fleet.store.assign(row.doc.ns, agent_id, b"", "defaults")
        return {"agent_id": agent_id, "updated": True, "live": live}

    @get("/agents/{agent_id:str}/capabilities/available", summary="get_available_capabilities")
    async def get_available_capabilities(
        self, request: Request[Any, Any, State], agent_id: FromPath[str]
    ) -> AvailableCapabilities:
        """Catalog capabilities whose required dependencies this agent can satisfy now:
        by itself, or through a live provider of a matching version in its namespace."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        return await agent_available_capabilities(reg, agent_id)

    @post("/capabilities/validate", status_code=200, summary="validate_capability_dependencies")
    async def validate(self, request: Request[Any, Any, State]) -> ValidationResult:
        """Validate a catalog-shaped capability (or ``{"name"}`` of a catalog entry)."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        _fleet(reg)  # without a bundle: 404 before any body error
        return validate_capability(reg, decode_json(await request.body(), _any))

    @put("/config/pin", summary="Pin a published version as active (manual override)")
    async def pin(self, request: Request[Any, Any, State]) -> PinState:
        """Override the highest-live-revision rule until the pin is deleted."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        fleet = _fleet(reg)
        body = decode_json(await request.body(), _pin)
        # Loaded (hash-verified) before pinning: every replica can then switch to it.
        if await fleet.load(body.version) is None:
            raise InvalidInput(
                f"version: {body.version} is not a published, verifiable bundle"
                " (GET /config/versions lists the published versions)",
                field="version",
            )
        await fleet.store.set_pin(body.version)
        return await _applied(fleet, body.version)

    @delete("/config/pin", status_code=200, summary="Remove the pin")
    async def unpin(self, request: Request[Any, Any, State]) -> PinState:
        """Back to the highest live revision."""
        reg = Registry.of(request.app.state)
        require_admin(request, reg)
        fleet = _fleet(reg)
        await fleet.store.set_pin(None)
        return await _applied(fleet, None)


async def _applied(fleet: FleetConfig, pinned: str | None) -> PinState:
    """Recompute the active bundle now rather than at the next refresh tick.

    This replica serves the result before it answers; the activation it records reaches
    every other replica's history watcher within a round trip.
    """
    await fleet.refresh("read")
    return PinState(
        pinned=pinned, active=fleet.active.version, generation=fleet.generation, source=fleet.source
    )
