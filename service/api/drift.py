"""``GET /drift``: per profile, which live agents run the active config and which do not."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State
from litestar.params import FromQuery

from service.drift import DriftReport, compute
from service.metrics import CONVERGENCE

from .deps import Registry


@get("/drift", summary="Config drift per profile")
async def drift_report(state: State, namespace: FromQuery[str | None] = None) -> DriftReport:
    """Active version, agents on it, on other versions (with them), and with no version.

    ``convergence_ratio`` counts agents that report a version; agents that report none
    (stock MCP Mesh agents) are listed under ``unknown`` and do not lower it.
    """
    report, _ = await compute(Registry.of(state), namespace)
    if namespace is None:
        for p in report.profiles:
            CONVERGENCE.labels(profile=p.profile).set(p.convergence_ratio)
    return report
