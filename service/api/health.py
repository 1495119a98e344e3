"""Health endpoints: MCP Mesh's ``/health`` plus Kubernetes probes."""

from __future__ import annotations

from litestar import Response
from litestar.openapi.datastructures import ResponseSpec

from service.registry import health as uc
from service.registry.health import Readiness, RegistryHealth

from .wiring import Reg, get


@get(
    "/health",
    summary="Registry health (MCP Mesh shape)",
    tags=["health"],
    responses={503: ResponseSpec(data_container=RegistryHealth, description="Redis is away")},
)
async def health(reg: Reg) -> Response[RegistryHealth]:
    """``healthy`` when Redis answers; 503 ``unhealthy`` otherwise."""
    body = await uc.health(reg)
    return Response(body, status_code=200 if body.status == "healthy" else 503)


@get("/health/live", summary="Liveness probe", tags=["health"])
async def live() -> dict[str, str]:
    """The process serves requests; says nothing about Redis (so Redis loss never kills pods)."""
    return {"status": "ok"}


@get(
    "/health/ready",
    summary="Readiness probe",
    tags=["health"],
    responses={503: ResponseSpec(data_container=Readiness, description="Not ready")},
)
async def ready(reg: Reg) -> Response[Readiness]:
    """Ready when Redis answers and the configuration is loaded."""
    body = await uc.readiness(reg)
    return Response(body, status_code=200 if body.status == "ready" else 503)
