"""Health: the registry's own (MCP Mesh's ``/health``) and the readiness check."""

from __future__ import annotations

from typing import Literal

import msgspec

from service import __version__
from service.errors import StoreUnavailable
from service.registry.clock import now_ms
from service.registry.context import Registry
from service.store.records import iso


class RegistryHealth(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /health`` in the MCP Mesh shape."""

    status: Literal["healthy", "unhealthy"]
    version: str
    uptime_seconds: int
    timestamp: str
    service: str = "agent-registry"


class Readiness(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /health/ready``: ready when Redis answers and the configuration is loaded."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]


async def health(reg: Registry) -> RegistryHealth:
    """``healthy`` when Redis answers, ``unhealthy`` otherwise."""
    try:
        await reg.store.ping()
        status: Literal["healthy", "unhealthy"] = "healthy"
    except StoreUnavailable:
        status = "unhealthy"
    return RegistryHealth(
        status=status,
        version=__version__,
        uptime_seconds=reg.uptime_seconds,
        timestamp=iso(now_ms()),
    )


async def readiness(reg: Registry) -> Readiness:
    """Redis answers and, when one is configured, the bundle is loaded (it was verified
    before start-up)."""
    checks = {"config": "ok" if reg.bundle is not None else "none configured"}
    try:
        await reg.store.ping()
        checks["redis"] = "ok"
    except StoreUnavailable as exc:
        checks["redis"] = exc.detail
    return Readiness(status="ready" if checks["redis"] == "ok" else "not ready", checks=checks)
