"""``registry serve`` as a real process: several workers, metrics that add up."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from agents_data import provider
from support import start_registry


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}{{{labels}}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_two_workers_export_metrics_that_add_up(tmp_path: Path, redis_url: str) -> None:
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    (prom_dir / "counter_99999.db").write_bytes(b"stale file from an earlier run")
    proc = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(prom_dir),
    )
    try:
        assert not (prom_dir / "counter_99999.db").exists()
        # A fresh connection per request spreads requests over both workers.
        httpx.post(f"{proc.url}/heartbeat", json=provider(), timeout=5).raise_for_status()
        for _ in range(40):
            assert httpx.head(f"{proc.url}/heartbeat/greeter-1", timeout=5).status_code == 200
        # Each worker's sweeper publishes gauges within a sweep interval.
        deadline = time.monotonic() + 10
        while len(pids := {p.stem.split("_")[-1] for p in prom_dir.glob("*.db")}) < 2:
            assert time.monotonic() < deadline, f"only {pids} wrote metrics"
            time.sleep(0.05)
        for _ in range(5):  # whichever worker answers the scrape, the sum is the same
            text = httpx.get(f"{proc.url}/metrics", timeout=5).text
            assert _metric(text, "registry_heartbeats_total", 'kind="head",result="ok"') == 40
            assert _metric(text, "registry_heartbeats_total", 'kind="post",result="ok"') == 1
    finally:
        proc.stop()
