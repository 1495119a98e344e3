"""The fault suite works end to end, small: 40 agents, a replica SIGKILL and a Redis SIGSTOP.

``make faults`` runs every scenario with 300 agents; this runs two of them at a size two shared
cores carry, with a shorter wait after the fault (one expire_after instead of two plus an
interval), and holds them to the same goals: no false expiry, no 410 to a live agent, no 5xx
but 503, and the listing equal to the fleet at the end. About 40 s on two shared cores, most
of it the five replica cold starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_replica_kill_and_redis_pause_meet_the_goals(tmp_path: Path) -> None:
    results = tmp_path / "faults.json"
    args = ["--agents", "40", "--scenarios", "a,c", "--settle", "4"]
    args += ["--results", str(results), "--workdir", str(tmp_path / "work")]
    out = subprocess.run(
        [sys.executable, "-m", "loadtests.faults", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(results.read_text())
    assert set(report["scenarios"]) == {"a", "c"}
    for key, f in report["scenarios"].items():
        assert f["agents"] == 40, key
        assert f["requests"] > 0, key
        assert f["false_expiries"] == 0, f
        assert f["gone_410"] == 0, f
        assert f["http_5xx_other"] == 0, f
        assert f["listing_equals_fleet"], f
        assert not f["goals_missed"], f
    # The killed replica's agents failed over: connection errors, and no false expiry.
    assert report["scenarios"]["a"]["conn_errors"] > 0
    assert "every goal met" in out.stdout
