"""Pass or fail for a locust run: per-scenario p99 limits, zero errors, zero failed registrations.

Every request name starts with its scenario (``hb``, ``read``, ``churn``, ``cfg``), so the stats of
one scenario are found by prefix. The verdict and the figures are printed as one
``LOADTEST_SUMMARY {json}`` line that :mod:`loadtests.run` reads.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

#: Protocol events counted by the scenarios (re-POSTs, back-offs, registrations…).
EVENTS: Counter[str] = Counter()

#: Scenario prefix -> default p99 limit in ms (2 cores shared by Redis, replicas and locust).
DEFAULT_P99_MS = {"hb": 500.0, "read": 1000.0, "churn": 1000.0, "cfg": 500.0}


@dataclass(frozen=True, slots=True)
class Figures:
    """One scenario's aggregate: requests, failures and p99 (ms)."""

    requests: int
    failures: int
    p99_ms: float


def scenario_figures(stats: Any, prefix: str) -> Figures:
    """Aggregate the locust stats entries whose name starts with ``prefix``."""
    entries = [e for (name, _), e in stats.entries.items() if name.startswith(prefix + " ")]
    if not entries:
        return Figures(0, 0, 0.0)
    p99 = max(e.get_response_time_percentile(0.99) or 0.0 for e in entries)
    return Figures(
        requests=sum(e.num_requests for e in entries),
        failures=sum(e.num_failures for e in entries),
        p99_ms=float(p99),
    )


def verdict(stats: Any, p99_ms: dict[str, float]) -> tuple[list[str], dict[str, Any]]:
    """Broken thresholds (empty when the run passes) and the summary document."""
    broken: list[str] = []
    scenarios: dict[str, Any] = {}
    for prefix, limit in p99_ms.items():
        f = scenario_figures(stats, prefix)
        scenarios[prefix] = {
            "requests": f.requests,
            "failures": f.failures,
            "p99_ms": f.p99_ms,
            "p99_limit_ms": limit,
        }
        if f.requests == 0:
            broken.append(f"{prefix}: no requests were made")
        if f.failures:
            broken.append(f"{prefix}: {f.failures} failed requests (error rate must be 0)")
        if f.p99_ms > limit:
            broken.append(f"{prefix}: p99 {f.p99_ms:.0f} ms is above {limit:.0f} ms")
    if EVENTS["registration_failed"]:
        broken.append(f"{EVENTS['registration_failed']} registrations failed (must be 0)")
    total = stats.total
    summary = {
        "passed": not broken,
        "broken": broken,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.total_rps, 1),
        "p99_ms": total.get_response_time_percentile(0.99) or 0.0,
        "scenarios": scenarios,
        "events": dict(sorted(EVENTS.items())),
    }
    return broken, summary


def summary_line(summary: dict[str, Any]) -> str:
    """The line :mod:`loadtests.run` parses."""
    return "LOADTEST_SUMMARY " + json.dumps(summary, sort_keys=True)


def parse_summary(output: str) -> dict[str, Any] | None:
    """The summary document from a locust run's output, if it printed one."""
    for line in reversed(output.splitlines()):
        if line.startswith("LOADTEST_SUMMARY "):
            data: dict[str, Any] = json.loads(line.removeprefix("LOADTEST_SUMMARY "))
            return data
    return None
