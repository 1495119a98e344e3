"""Registry figures: agent counts (from Redis, equal on every replica) and this replica's
counters, as JSON and in the Prometheus text format."""

from __future__ import annotations

import os

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from service import __version__
from service.registry.context import Registry
from service.store.records import iso


class AgentCounts(msgspec.Struct, kw_only=True, frozen=True):
    """Agents by status, summed and per namespace (read from Redis: equal on every replica)."""

    total: int
    healthy: int
    degraded: int
    suspect: int
    expired: int
    by_namespace: dict[str, dict[str, int]]


class ReplicaCounters(msgspec.Struct, kw_only=True, frozen=True):
    """This replica's own counters, keyed by their Prometheus labels."""

    heartbeats: dict[str, float]
    expiries: dict[str, float]
    store_errors: dict[str, float]
    #: Stored values reads skipped because they do not decode, by ``kind``.
    corrupt_records: dict[str, float]


class Protection(msgspec.Struct, kw_only=True, frozen=True):
    """A namespace's mass-expiry protection: while ``active``, expiries are held (the
    agents show as ``suspect``) until ``until``; it cannot start again before ``rearm_after``."""

    active: bool
    since: str
    until: str
    rearm_after: str
    reason: str
    held: int


class RegistryMetrics(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /registry/metrics``."""

    version: str
    uptime_seconds: int
    agents: AgentCounts
    replica: ReplicaCounters
    #: Namespaces whose protection is active or cooling down (absent: none).
    protection: dict[str, Protection] = {}


class PrometheusText(msgspec.Struct, kw_only=True, frozen=True):
    """The Prometheus text exposition of ``GET /metrics``."""

    content_type: str
    text: str


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


async def registry_figures(reg: Registry) -> RegistryMetrics:
    """Agent counts per namespace and status, and this replica's counters."""
    counts = await reg.store.counts()
    totals = {
        s: sum(c[s] for c in counts.values()) for s in ("healthy", "degraded", "suspect", "expired")
    }
    protection = {}
    for ns in counts:
        state = await reg.store.protection(ns)
        if state is not None:
            protection[ns] = Protection(
                active=state.active,
                since=iso(state.since_ms),
                until=iso(state.until_ms),
                rearm_after=iso(2 * state.until_ms - state.since_ms),
                reason=state.reason,
                held=state.held,
            )
    return RegistryMetrics(
        protection=protection,
        version=__version__,
        uptime_seconds=reg.uptime_seconds,
        agents=AgentCounts(total=sum(totals.values()), **totals, by_namespace=counts),
        replica=ReplicaCounters(
            heartbeats=_counter_values("registry_heartbeats"),
            expiries=_counter_values("registry_expiries"),
            store_errors=_counter_values("registry_store_errors"),
            corrupt_records=_counter_values("registry_corrupt_records"),
        ),
    )


def prometheus_text() -> PrometheusText:
    """This replica's metrics in the Prometheus text format.

    With several workers only the multiprocess collector sees every process's samples (the
    same choice Litestar's PrometheusController makes behind ``GET /metrics``).
    """
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return PrometheusText(content_type=CONTENT_TYPE_LATEST, text=generate_latest(registry).decode())
