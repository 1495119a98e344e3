"""What a heartbeat answer delivers beyond wiring: the agent's config and capabilities.

Everything here reads replica memory (the fleet-active bundle) and the assignment that the
heartbeat script already returned, so delivery adds no Redis round trip to the hot path.
"""

from __future__ import annotations

import logging
from typing import Any

from service.bundle import Bundle, canonical_json, sha256_digest
from service.metrics import ASSIGNMENTS_LOST
from service.models import CapabilityDelivery, ConfigDelivery, HeartbeatRequest
from service.registry.cohorts import Served
from service.registry.fleet import FleetConfig
from service.store.records import Assignment

log = logging.getLogger("service.delivery")
ASSIGNED = "a:"  # prefix of runtime-assignment versions
DEFAULTS = "d:"  # prefix of profile-default versions


def assignment_version(caps: list[dict[str, Any]]) -> str:
    """Content version of an assignment: equal sets of capabilities share a version."""
    return ASSIGNED + sha256_digest(canonical_json(caps))[7:23]


def defaults_version(caps: list[dict[str, Any]]) -> str:
    """Content version of a profile's default capabilities."""
    return DEFAULTS + sha256_digest(canonical_json(caps))[7:23]


def profile_capabilities(bundle: Bundle, profile: str) -> list[dict[str, Any]] | None:
    """The profile's default capabilities from the bundle; ``None`` for an unknown profile."""
    payload = bundle.profiles.get(profile)
    if payload is None:
        return None
    return list(payload.get("capabilities") or [])


def config_block(
    fleet: FleetConfig, served: Served, profile: str, reported: str | None
) -> ConfigDelivery:
    """The served version; the profile's payload and restart flag when the agent differs."""
    bundle = served.bundle
    changed = reported != bundle.version
    payload = bundle.profiles.get(profile) if changed else None
    return ConfigDelivery(
        version=bundle.version,
        generation=served.generation,
        changed=changed,
        restart_required=changed and fleet.restart_required(profile, reported, bundle),
        payload=payload,
    )


def capabilities_block(
    bundle: Bundle, profile: str, req: HeartbeatRequest, stored: Assignment | None
) -> tuple[CapabilityDelivery | None, bool]:
    """The agent's capability set, and whether an assignment it reports was lost.

    A lost assignment (the agent reports an ``a:`` version Redis no longer holds) means Redis
    lost data, or the agent was unregistered or purged since: the agent falls back to its
    profile's defaults, and the caller records a metric and a warning event.
    """
    reported = req.capabilities_version
    lost = False
    if stored is not None:
        version, caps, source = stored.v, stored.caps, "assigned"
    else:
        defaults = profile_capabilities(bundle, profile)
        lost = bool(reported and reported.startswith(ASSIGNED))
        if defaults is None:
            return None, lost
        version, caps, source = defaults_version(defaults), defaults, "profile"
    changed = reported != version
    block = CapabilityDelivery(
        version=version,
        changed=changed,
        source=source,  # type: ignore[arg-type]
        assigned=caps if changed else None,
    )
    if lost:
        ASSIGNMENTS_LOST.inc()
        log.warning(
            "agent %s reports capability assignment %s that the store no longer holds"
            " (unregistered or purged since, or Redis lost data: it needs AOF persistence)",
            req.agent_id,
            reported,
        )
    return block, lost
