"""``GET /drift``: per profile, which live agents run the active config and which do not."""

from __future__ import annotations

from service.registry.drift import DriftReport, drift_report

from .params import NamespaceQuery
from .wiring import Reg, get, problems


@get("/drift", summary="Config drift per profile", tags=["config"], responses=problems(400, 503))
async def drift(reg: Reg, namespace: NamespaceQuery = None) -> DriftReport:
    """Active version, agents on it, on other versions (with them), and with no version.

    ``convergence_ratio`` counts agents that report a version; agents that report none
    (stock MCP Mesh agents) are listed under ``unknown`` and do not lower it.
    """
    return await drift_report(reg, namespace)
