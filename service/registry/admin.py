"""Admin operations: capability injection and the config pin.

Adapters expose them only to admins (the HTTP guard and the MCP tools both call
:func:`service.registry.auth.check_admin`); nothing here checks tokens itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from service.domain.catalog import (
    ValidationResult,
    available_capabilities,
    catalog_index,
    check_assignment,
    validate_capability_dependencies,
)
from service.domain.matching import parse_constraint, version_matches
from service.errors import InvalidInput, NotFound
from service.models import END, Capability, VersionText
from service.registry.context import Registry
from service.registry.delivery import assignment_version
from service.registry.fleet import FleetConfig


class AssignedCapability(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One capability to run: a catalog name and, optionally, one of its versions."""

    name: Capability
    version: VersionText | None = None


class CapabilitiesBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT /admin/agents/{id}/capabilities``."""

    capabilities: Annotated[list[AssignedCapability], Meta(max_length=64)]


class PinBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT /admin/config/pin``: a published bundle version."""

    version: Annotated[str, Meta(pattern=r"^sha256:[0-9a-f]{64}" + END)]


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


class CapabilitiesReset(msgspec.Struct, kw_only=True, frozen=True):
    """Answer of ``DELETE /admin/agents/{id}/capabilities``: back to the profile's defaults."""

    agent_id: str
    updated: bool
    live: bool


class AvailableCapabilities(msgspec.Struct, kw_only=True, frozen=True):
    """Answer of ``get_available_capabilities``: catalog names, sorted."""

    agent_id: str
    capabilities: list[str]


_enc = msgspec.json.Encoder()


def require_fleet(reg: Registry) -> FleetConfig:
    """The fleet config, or a 404 naming the missing setting."""
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
    fleet = require_fleet(reg)
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
    fleet = require_fleet(reg)
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
    fleet = require_fleet(reg)
    if not isinstance(cap.get("name"), str) or not cap["name"]:
        raise InvalidInput("name: a capability name is required", field="name")
    if set(cap) == {"name"}:
        entry = catalog_index(fleet.active.catalog).get(cap["name"])
        if entry is None:
            raise NotFound(f"capability {cap['name']!r} is not in the catalog", field="name")
        cap = entry
    return validate_capability_dependencies(cap, fleet.active.catalog)


async def _applied(fleet: FleetConfig, pinned: str | None) -> PinState:
    """Recompute the active bundle now rather than at the next refresh tick.

    This replica serves the result before it answers; the activation it records reaches
    every other replica's history watcher within a round trip.
    """
    await fleet.refresh("read")
    return PinState(
        pinned=pinned, active=fleet.active.version, generation=fleet.generation, source=fleet.source
    )


async def reset_agent_capabilities(reg: Registry, agent_id: str) -> CapabilitiesReset:
    """Drop the runtime assignment; the agent gets its profile's defaults again."""
    fleet = require_fleet(reg)
    row = await reg.store.get_agent(agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id")
    live = await fleet.store.assign(row.doc.ns, agent_id, b"", "defaults")
    return CapabilitiesReset(agent_id=agent_id, updated=True, live=live)


async def pin(reg: Registry, body: PinBody) -> PinState:
    """Pin a published version as active, overriding the highest-live-revision rule."""
    fleet = require_fleet(reg)
    # Loaded (hash-verified) before pinning: every replica can then switch to it.
    if await fleet.load(body.version) is None:
        raise InvalidInput(
            f"version: {body.version} is not a published, verifiable bundle"
            " (GET /config/versions lists the published versions)",
            field="version",
        )
    await fleet.store.set_pin(body.version)
    return await _applied(fleet, body.version)


async def unpin(reg: Registry) -> PinState:
    """Remove the pin: back to the highest live revision."""
    fleet = require_fleet(reg)
    await fleet.store.set_pin(None)
    return await _applied(fleet, None)
