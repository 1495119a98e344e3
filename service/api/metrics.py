"""``GET /registry/metrics``: the figures of ``/metrics`` as JSON."""

from __future__ import annotations

from litestar import Response
from litestar import get as get_only
from litestar.plugins.prometheus import PrometheusController

from service.registry.figures import RegistryMetrics, registry_figures

from .wiring import Reg, get, problems


class MetricsController(PrometheusController):
    """``GET /metrics``: Litestar's exposition, documented as the text it is (not JSON)."""

    @get_only(
        media_type="text/plain",
        summary="Prometheus metrics (text exposition format)",
        tags=["metrics"],
    )
    async def get(self) -> Response[bytes]:
        """Every registry and process metric, in the Prometheus text format."""
        answer: Response[bytes] = await PrometheusController.get.fn(self)
        return answer


@get(
    "/registry/metrics",
    summary="Registry figures as JSON",
    tags=["metrics"],
    responses=problems(503),
)
async def registry_metrics(reg: Reg) -> RegistryMetrics:
    """Agent counts (from Redis, the same on every replica) and this replica's counters."""
    return await registry_figures(reg)
