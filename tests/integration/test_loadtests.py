"""The load tools work end to end: a 10 s locust smoke run and a tiny harness dry run.

Neither asserts speed: they prove the tools start their processes, drive real replicas,
judge and report. Speed is the harness's job (``make bench``), not a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from loadtests.seed import fleet, seed
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
    "workers",
    "cold_start",
    "longpoll_idle",
    "longpoll_wake",
    "capabilities_calls",
    "sweep",
    "ratios",
}


# One short round of an A/B HEAD bench (auth, rollout), unpinned: it checks the harness, not
# the figures.
SMALL_AB_RUN = ("--agents", "20", "--duration", "1", "--rounds", "1", "--count", "20",
                "--server-cpus", "", "--client-cpus", "")  # fmt: skip


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
        "--coldstart-runs",
        "1",
        "--longpoll-wait",
        "0.5",
        "--out",
        str(results),
        timeout=240,  # cold starts, a 2-worker run, 3 sweeping replicas: on a busy machine
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
    assert sum(data["workers"]["requests_by_pid"].values()) > 0
    assert data["memory"]["by_kind"]


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


def test_propagation_bench_rollout_dry_run_reaches_every_cohort() -> None:
    out = _run(
        "loadtests.bench_propagation",
        "--agents",
        "20",
        "--interval",
        "1",  # agents 3 s late would degrade, and a degraded candidate rolls back
        "--procs",
        "2",
        "--rollout",
        timeout=150,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reached 20/20 agents" in out.stdout
    assert ": complete" in out.stdout  # the leader promoted every step, then completed
    for step, share in enumerate(("10%", "50%", "100%")):
        assert f"step {step} ({share}): cohort " in out.stdout, step
    assert "by their first heartbeat after the step began" in out.stdout


def test_auth_bench_dry_run_compares_token_and_off() -> None:
    out = _run("loadtests.bench_auth", *SMALL_AB_RUN, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "HEAD token/off:" in out.stdout
    assert "EVALSHA per token HEAD: 1.0" in out.stdout


def test_rollout_bench_dry_run_compares_head_during_a_rollout_and_without(tmp_path: Path) -> None:
    results = tmp_path / "rollout.json"
    out = _run(
        "loadtests.bench_rollout",
        *SMALL_AB_RUN,
        "--out",
        str(results),
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "HEAD during a rollout / without: " in out.stdout
    assert "x req/s" in out.stdout and "x by CPU per request" in out.stdout
    assert "EVALSHA per HEAD: 1.0 without, 1.0 during a rollout" in out.stdout
    data = json.loads(results.read_text())
    (rollout,) = data["rollouts"]
    # Every agent was placed by a POST after the rollout started (its first HEAD: 202).
    assert rollout["first_head_status"] == 202
    assert rollout["on_candidate"] + rollout["on_baseline"] == 20
    cohorts = rollout["cohorts"]
    assert cohorts["candidate"]["agents"] == rollout["on_candidate"]
    assert cohorts["baseline"]["agents"] == rollout["on_baseline"]
    for phase in ("without", "during"):
        assert data[phase]["rps"] > 0, phase
        assert data["calls"][phase]["requests"] == 20


def test_seeding_a_burst_larger_than_the_replica_gate_registers_every_agent(
    redis_url: str,
) -> None:
    # A batch of 200 concurrent heartbeats: past the replicas' gate (64 in flight, 64
    # queued), which the seeder sizes to its batch instead of being shed.
    assert seed(redis_url, fleet(0, 300), batch=200) == 300
    r = redis.Redis.from_url(redis_url)
    try:
        assert r.zcard("reg:{default}:ids") == 300
    finally:
        r.close()
