"""The load tools work end to end: a 10 s locust smoke run and a tiny harness dry run.

Neither asserts speed: they prove the tools start their processes, drive real replicas,
judge and report. Speed is the harness's job (``make bench``), not a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loadtests.thresholds import parse_summary

# loadtests/ is a dev tool at the repository root, not an installed package: it runs as
# ``python -m`` from there, and the tests read what it prints and writes.
ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "meta",
    "trivial",
    "head_small",
    "head_calls",
    "post_small",
    "post_calls",
    "lookup_small",
    "discovery_full",
    "discovery_304",
    "memory",
    "head_large",
    "lookup_large",
    "ratios",
}


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_locust_smoke_run_passes_its_thresholds() -> None:
    out = _run("loadtests.run", "--duration", "10", "--users", "12", timeout=100)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "loadtest PASSED" in out.stdout
    summary = parse_summary(out.stdout)
    assert summary is not None
    assert summary["requests"] > 0
    assert summary["failures"] == 0
    assert summary["events"].get("registration_failed", 0) == 0
    for scenario in ("hb", "read", "churn", "cfg"):
        assert summary["scenarios"][scenario]["requests"] > 0, scenario
    # The replicas served the bundle the runner built, and the config pollers applied it.
    assert summary["events"].get("config_applied", 0) > 0
    assert not [e for e in summary["events"] if e.startswith("config_") and e != "config_applied"]


def test_bench_dry_run_writes_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    out = _run(
        "loadtests.bench",
        "--agents",
        "50",
        "--large",
        "150",
        "--duration",
        "1",
        "--count",
        "50",
        "--out",
        str(results),
        timeout=110,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(results.read_text())
    assert data.keys() >= KEYS
    for workload in ("trivial", "head_small", "post_small", "head_large", "discovery_304"):
        assert data[workload]["requests"] > 0, workload
    assert data["discovery_304"]["status"].keys() == {"304"}
    assert data["head_calls"]["requests"] == 50
    assert data["memory"]["agents"] == 150
    assert "| head_vs_trivial |" in out.stdout


def test_propagation_bench_dry_run_reaches_every_agent() -> None:
    out = _run(
        "loadtests.bench_propagation",
        "--agents",
        "20",
        "--interval",
        "0.5",
        "--procs",
        "2",
        timeout=110,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reached 20/20 agents" in out.stdout
    assert "propagation after activation: min=" in out.stdout
    assert "heartbeats after the activation until the agent had B: " in out.stdout
