"""Health endpoints: MCP Mesh's ``/health`` plus Kubernetes probes."""

from __future__ import annotations

import time
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service import __version__
from service.errors import StoreUnavailable
from service.store.records import iso

from .deps import Registry, now_ms


@get("/health", summary="Registry health (MCP Mesh shape)")
async def health(state: State) -> Response[dict[str, Any]]:
    """``healthy`` when Redis answers; 503 ``unhealthy`` otherwise."""
    reg = Registry.of(state)
    try:
        await reg.store.ping()
        status, code = "healthy", 200
    except StoreUnavailable:
        status, code = "unhealthy", 503
    body = {
        "status": status,
        "version": __version__,
        "uptime_seconds": int(time.monotonic() - reg.started),
        "timestamp": iso(now_ms()),
        "service": "agent-registry",
    }
    return Response(body, status_code=code)


@get("/health/live", summary="Liveness probe")
async def live() -> dict[str, str]:
    """The process serves requests; says nothing about Redis (so Redis loss never kills pods)."""
    return {"status": "ok"}


@get("/health/ready", summary="Readiness probe")
async def ready(state: State) -> Response[dict[str, Any]]:
    """Ready when Redis answers and the configuration is loaded."""
    reg = Registry.of(state)
    # The bundle was verified before startup; without REGISTRY_BUNDLE_DIR there is none.
    checks: dict[str, str] = {"config": "ok" if reg.bundle is not None else "none configured"}
    try:
        await reg.store.ping()
        checks["redis"] = "ok"
    except StoreUnavailable as exc:
        checks["redis"] = exc.detail
    ok = checks["redis"] == "ok"
    return Response(
        {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
    )
