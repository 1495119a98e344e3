"""``GET /registry/metrics``: the figures of ``/metrics`` as JSON."""

from __future__ import annotations

import time
from typing import Any

from litestar import get
from litestar.datastructures import State
from prometheus_client import REGISTRY

from service import __version__

from .deps import Registry


def _counter_values(name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in REGISTRY.collect():
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[key] = sample.value
    return out


@get("/registry/metrics", summary="Registry figures as JSON")
async def registry_metrics(state: State) -> dict[str, Any]:
    """Agent counts (from Redis, the same on every replica) and this replica's counters."""
    return await registry_figures(Registry.of(state))


async def registry_figures(reg: Registry) -> dict[str, Any]:
    """The figures of ``GET /registry/metrics`` (shared with the MCP tool)."""
    counts = await reg.store.counts()
    totals = {s: sum(c[s] for c in counts.values()) for s in ("healthy", "degraded", "expired")}
    return {
        "version": __version__,
        "uptime_seconds": int(time.monotonic() - reg.started),
        "agents": {"total": sum(totals.values()), **totals, "by_namespace": counts},
        "replica": {
            "heartbeats": _counter_values("registry_heartbeats"),
            "expiries": _counter_values("registry_expiries"),
            "store_errors": _counter_values("registry_store_errors"),
        },
    }
