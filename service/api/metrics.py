"""``GET /registry/metrics``: the figures of ``/metrics`` as JSON."""

from __future__ import annotations

from service.registry.figures import RegistryMetrics, registry_figures

from .wiring import Reg, get, problems


@get(
    "/registry/metrics",
    summary="Registry figures as JSON",
    tags=["metrics"],
    responses=problems(503),
)
async def registry_metrics(reg: Reg) -> RegistryMetrics:
    """Agent counts (from Redis, the same on every replica) and this replica's counters."""
    return await registry_figures(reg)
