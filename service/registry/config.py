"""Config views: the fleet-active bundle, the published versions with the activation
history, and the semantic diff between two published versions."""

from __future__ import annotations

from typing import Any

import msgspec

from service.bundle import Bundle
from service.bundle_diff import BundleDiff, diff_bundles
from service.errors import NotFound
from service.registry.context import Registry
from service.registry.fleet import FleetConfig
from service.store.records import iso

_NO_BUNDLE = "no configuration bundle is loaded (REGISTRY_BUNDLE_DIR is unset)"


class ActiveView(msgspec.Struct, kw_only=True, frozen=True):
    """The fleet-active bundle as this replica serves it."""

    version: str
    generation: int
    revision: int
    source: str


class ReplicaView(msgspec.Struct, kw_only=True, frozen=True):
    """This replica's deploy revision and the bundle baked into its image."""

    revision: int
    baked: str


class PublishedVersion(msgspec.Struct, kw_only=True, frozen=True):
    """A bundle version published in Redis."""

    version: str
    published_at: str | None


class Claim(msgspec.Struct, kw_only=True, frozen=True):
    """A replica's live claim that its revision's bundle be active."""

    revision: int | str
    version: str
    replica: str
    expires_at: str


class ActivationView(msgspec.Struct, kw_only=True, frozen=True):
    """One activation: which version became active, when, and who caused it."""

    at: str
    generation: int
    revision: int
    version: str
    previous: str | None
    replica: str
    source: str


class VersionsView(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /config/versions``: what Redis holds about config, newest first."""

    active: ActiveView
    replica: ReplicaView
    versions: list[PublishedVersion]
    claims: list[Claim]
    history: list[ActivationView]


def active_bundle(reg: Registry) -> Bundle:
    """The fleet-active bundle, or a 404 naming the missing setting."""
    bundle = reg.bundle
    if bundle is None:
        raise NotFound(_NO_BUNDLE, field="REGISTRY_BUNDLE_DIR")
    return bundle


def _fleet(reg: Registry) -> FleetConfig:
    if reg.fleet is None:
        raise NotFound(_NO_BUNDLE, field="REGISTRY_BUNDLE_DIR")
    return reg.fleet


def manifest(reg: Registry) -> dict[str, Any]:
    """The active manifest: version (sha256 of the content), git provenance, environment."""
    return active_bundle(reg).manifest


def profile_payload(reg: Registry, name: str) -> dict[str, Any]:
    """The rendered payload of profile ``name`` in the active bundle, thresholds included."""
    payload = active_bundle(reg).profiles.get(name)
    if payload is None:
        raise NotFound(f"profile {name!r} is not in the active bundle", field="name")
    return payload


def catalog(reg: Registry) -> dict[str, Any]:
    """The capability catalog built with the active bundle."""
    return active_bundle(reg).catalog


async def versions(reg: Registry) -> VersionsView:
    """Every published version, the live claims and the activations, from Redis."""
    fleet = _fleet(reg)
    published = await fleet.store.versions()
    claims = await fleet.store.claims()
    history = await fleet.store.history()
    return VersionsView(
        active=ActiveView(
            version=fleet.active.version,
            generation=fleet.generation,
            revision=fleet.active_revision,
            source=fleet.source,
        ),
        replica=ReplicaView(revision=fleet.revision, baked=fleet.baked.version),
        versions=[
            PublishedVersion(version=v, published_at=iso(ms) if ms else None)
            for v, ms in reversed(published)
        ],
        claims=[_claim(member, ms) for member, ms in claims],
        history=[
            ActivationView(
                at=iso(h.at_ms),
                generation=h.generation,
                revision=h.revision,
                version=h.version,
                previous=h.previous or None,
                replica=h.replica,
                source=h.source,
            )
            for h in history
        ],
    )


async def diff(reg: Registry, from_version: str, to_version: str) -> BundleDiff:
    """Per-profile changed JSON pointers, catalog changes, and whether a restart is due."""
    fleet = _fleet(reg)
    before = await fleet.load(from_version)
    if before is None:
        raise NotFound(f"version {from_version!r} was never published", field="from")
    after = await fleet.load(to_version)
    if after is None:
        raise NotFound(f"version {to_version!r} was never published", field="to")
    return diff_bundles(before, after)


def _claim(member: str, expires_ms: int) -> Claim:
    revision, version, replica = [*member.split("|", 2), "", ""][:3]
    return Claim(
        revision=int(revision) if revision.isdigit() else revision,
        version=version,
        replica=replica,
        expires_at=iso(expires_ms),
    )
