"""The operator CLI against real ``registry serve`` processes and a real Redis.

Every command runs as a real ``registry`` process, so the entry point, argument parsing,
HTTP calls, rendering and exit codes are what an operator gets.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from agents_data import consumer, provider
from config_bundles import rollout_policy, worker, worker_bundle
from support import RedisServer, RegistryProcess, free_port, start_registry

from service.cli.commands import ROLLOUT_ACTIONS
from service.registry.rollout_admin import ACTIONS
from service.settings import Thresholds

EXE = str(Path(sys.executable).with_name("registry"))


def cli(*args: str, url: str, color: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``registry ARGS --url URL`` and capture its output (``color``: ANSI styles)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("REGISTRY_URL", None)
    env.pop("REGISTRY_TOKEN", None)
    if color:
        env.pop("NO_COLOR")
        env["FORCE_COLOR"] = "1"
    return subprocess.run(
        [EXE, *args, "--url", url], capture_output=True, text=True, timeout=30, env=env
    )


def post(url: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{url}/heartbeat", json=body, timeout=5)
    assert response.status_code == 200, response.text


def test_agents_agent_providers_and_capabilities(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    post(reg.url, provider("greeter-1", tags=["english"]))
    post(reg.url, provider("greeter-2", tags=["french"], port=9003))
    post(reg.url, consumer("welcomer-1"))

    listing = cli("agents", url=reg.url)
    assert listing.returncode == 0, listing.stderr
    for ident in ("greeter-1", "greeter-2", "welcomer-1"):
        assert ident in listing.stdout
    assert "healthy" in listing.stdout
    assert "3 agents" in listing.stdout

    filtered = cli("agents", "--capability", "greeting", "--tag=-french", url=reg.url)
    assert filtered.returncode == 0, filtered.stderr
    assert "greeter-1" in filtered.stdout
    assert "greeter-2" not in filtered.stdout
    assert "welcomer-1" not in filtered.stdout

    as_json = json.loads(cli("agents", "--status", "healthy", "-o", "json", url=reg.url).stdout)
    assert sorted(a["id"] for a in as_json["agents"]) == ["greeter-1", "greeter-2", "welcomer-1"]

    one = cli("agent", "welcomer-1", url=reg.url)
    assert one.returncode == 0, one.stderr
    assert "welcome" in one.stdout  # its tool
    # Its dependency and the live providers of that capability.
    deps = one.stdout.split("dependencies", 1)[1]
    assert "greeting" in deps
    assert "greeter-1" in deps
    assert "TTL left" in one.stdout

    prov = cli("providers", "greeting", "--tag", "english", url=reg.url)
    assert prov.returncode == 0, prov.stderr
    assert "greeter-1" in prov.stdout
    assert "greeter-2" not in prov.stdout

    caps = json.loads(cli("capabilities", "-o", "json", url=reg.url).stdout)
    by_name = {c["name"]: c for c in caps["capabilities"]}
    assert by_name["greeting"]["providers"] == 2


def test_exit_codes_and_one_line_errors(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)

    missing = cli("agent", "nobody-1", url=reg.url)
    assert missing.returncode == 3
    assert missing.stderr.count("\n") == 1
    assert "nobody-1" in missing.stderr and "404" in missing.stderr

    bad = cli("agents", "--version", "not a constraint", url=reg.url)
    assert bad.returncode == 1
    assert "version" in bad.stderr
    assert bad.stderr.count("\n") == 1

    down = cli("agents", url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 4
    assert "cannot reach the registry" in down.stderr
    assert "Traceback" not in down.stderr

    usage = cli("config", "diff", "only-one", url=reg.url)
    assert usage.returncode == 2
    assert "FROM TO" in usage.stderr


def test_store_outage_exits_5(own_redis: RedisServer, tmp_path: Path) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=own_redis.url, REGISTRY_REDIS_TIMEOUT="0.3")
    try:
        assert cli("agents", url=reg.url).returncode == 0
        own_redis.stop()
        out = cli("agents", url=reg.url)
        assert out.returncode == 5, out.stdout + out.stderr
        assert "503" in out.stderr
    finally:
        reg.stop()


def test_drift_and_config_commands(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large")
    env = {"REGISTRY_REDIS_URL": redis_url, "REGISTRY_DRIFT_INTERVAL": "0.2"}
    old = start_registry(tmp_path, REGISTRY_BUNDLE_DIR=str(a.path), **env)
    processes.append(old)
    new = start_registry(
        tmp_path, REGISTRY_BUNDLE_DIR=str(b.path), REGISTRY_DEPLOY_REVISION="2", **env
    )
    processes.append(new)
    active = json.loads(cli("config", "active", "-o", "json", url=old.url).stdout)
    assert active["version"] == b.version

    versions = cli("config", "versions", url=new.url)
    assert versions.returncode == 0, versions.stderr
    assert a.version in versions.stdout and b.version in versions.stdout

    diff = cli("config", "diff", a.version, b.version, url=new.url)
    assert diff.returncode == 0, diff.stderr
    assert "worker" in diff.stdout and "MAJOR" in diff.stdout
    assert "/config/model" in diff.stdout

    # The drift report is recomputed every REGISTRY_DRIFT_INTERVAL: poll until it counts
    # both agents (heartbeating each time: the bundle's agents expire after 3 s).
    deadline = time.monotonic() + 15
    while True:
        post(new.url, worker("w-1", config_version=b.version))
        post(new.url, worker("w-2", config_version=a.version))
        report = cli("drift", url=new.url)
        assert report.returncode == 0, report.stderr
        if "50%" in report.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "50%" in report.stdout, report.stdout
    row = next(line.split() for line in report.stdout.splitlines() if line.startswith("worker"))
    assert row[:5] == ["worker", "2", "1", "1", "0"]

    unknown = cli("config", "diff", a.version, "sha256:" + "0" * 64, url=new.url)
    assert unknown.returncode == 3


def test_events_follow_prints_events_as_they_happen(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    post(reg.url, provider("early-1"))
    follower = subprocess.Popen(
        [EXE, "events", "--follow", "-o", "json", "--url", reg.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None
    out = follower.stdout
    reader = threading.Thread(target=lambda: [lines.put(x) for x in out], daemon=True)
    reader.start()
    try:
        first = _collect(lines, follower, until="early-1")
        assert any(e["type"] == "register" for e in first)
        post(reg.url, provider("late-1", port=9005))
        later = _collect(lines, follower, until="late-1")
        httpx.delete(f"{reg.url}/agents/late-1", timeout=5)
        later += _collect(lines, follower, until="late-1", event="unregister")
        # Every event exactly once, in order, across polls (no replay of earlier ones).
        ids = [e["id"] for e in first + later]
        assert len(ids) == len(set(ids)), ids
        assert [e["agent_id"] for e in later] == ["late-1", "late-1"]
        assert [e["type"] for e in later] == ["register", "unregister"]
    finally:
        follower.send_signal(signal.SIGINT)
        code = follower.wait(10)
        reader.join(5)
        out.close()
        if follower.stderr is not None:
            follower.stderr.close()
    assert code == 0


def _collect(
    lines: queue.Queue[str],
    proc: subprocess.Popen[str],
    *,
    until: str,
    event: str = "register",
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """JSON events printed by ``proc`` until one of ``event`` for agent ``until``."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            item = json.loads(lines.get(timeout=0.2))  # one object per line
        except queue.Empty:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            continue
        seen.append(item)
        if item["agent_id"] == until and item["type"] == event:
            return seen
    raise AssertionError(f"no {event} event for {until} within {timeout}s; saw {seen}")


TOKEN = "s3cret-cli"
# Slow thresholds: nobody degrades or expires during the test (the gate would see it).
SLOW = Thresholds(heartbeat_interval=5.0, degraded_after=60.0, expire_after=120.0, retention=300.0)


def _section(out: str, title: str) -> list[list[str]]:
    """The rows (split on whitespace) of the table titled ``title`` in ``out``."""
    out = "\n".join(line.rstrip() for line in out.splitlines())
    lines = out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.split() for line in lines[1:]]  # after the header


def test_rollout_status_and_operator_actions(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    assert ROLLOUT_ACTIONS == ACTIONS  # the CLI's choices are the API's actions
    a = worker_bundle(tmp_path / "a", thresholds=SLOW)
    # min_sample 100: the small cohorts here are judged on counts (one restart breaches).
    policy = rollout_policy(50, 100, min_sample=100)
    b = worker_bundle(tmp_path / "b", model="large", thresholds=SLOW, rollout=policy)
    env = {
        "REGISTRY_REDIS_URL": redis_url,
        "REGISTRY_ADMIN_TOKEN": TOKEN,
        "REGISTRY_CONFIG_REFRESH": "0.1",
        "REGISTRY_CONFIG_CLAIM_TTL": "0.5",
    }
    old = start_registry(tmp_path, REGISTRY_BUNDLE_DIR=str(a.path), **env)
    processes.append(old)
    none = cli("rollout", url=old.url)
    assert none.returncode == 0, none.stderr
    assert "config rollout: none" in none.stdout
    ids = [f"w-{i}" for i in range(20)]
    for i in ids:
        post(old.url, worker(i, config_version=a.version))

    new = start_registry(
        tmp_path, REGISTRY_BUNDLE_DIR=str(b.path), REGISTRY_DEPLOY_REVISION="2", **env
    )
    processes.append(new)
    deadline = time.monotonic() + 15
    while json.loads(cli("rollout", "-o", "json", url=old.url).stdout)["state"] != "running":
        assert time.monotonic() < deadline, "no rollout started"
        time.sleep(0.2)

    shown = cli("rollout", url=new.url)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "running  step 1/2 (50%)" in out
    assert f"candidate {b.version}" in out and f"baseline  {a.version}" in out
    assert [r[:3] for r in _section(out, "steps")] == [["1", "50%", "30s"], ["2", "100%", "30s"]]
    assert _section(out, "steps")[0][3:] == ["<-", "now"]
    (cohort,) = _section(out, "cohorts")
    profile, share, cand, applied, failed, pending, base, not_gating = cohort
    assert (profile, share, applied, failed, not_gating) == ("worker", "50%", "0", "0", "0")
    assert int(cand) + int(base) == len(ids) and pending == cand
    signals = _section(out, "gate signals")
    assert [r[-1] for r in signals] == ["ok"] * 4 and signals[0][:2] == ["worker", "failures"]
    assert "counts" in signals[0] and "BREACHED" not in out
    assert _section(out, "decisions (newest first)")[0][2] == "start"

    # Actions need the admin scope: one line naming the call and the refusal.
    refused = cli("rollout", "pause", url=new.url)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "POST /admin/config/rollout/pause answered 401" in refused.stderr
    paused = cli("rollout", "pause", "--reason", "canary looks slow", "--token", TOKEN, url=new.url)
    assert paused.returncode == 0, paused.stderr
    assert "paused  step 1/2" in paused.stdout
    latest = _section(paused.stdout, "decisions (newest first)")[0]
    assert latest[2:5] == ["pause", "1", "operator"] and " ".join(latest[5:]) == "canary looks slow"

    resumed = cli("rollout", "resume", "--token", TOKEN, "-o", "json", url=old.url)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["state"] == "running"
    again = cli("rollout", "resume", "--token", TOKEN, url=old.url)
    assert again.returncode == 1
    assert "409" in again.stderr and "cannot resume a rollout that is running" in again.stderr
    assert "(field: action)" in again.stderr

    # Paused, the gate acts on nothing: an agent in the candidate cohort restarts (it
    # reports no version, then the candidate again) and the breach is shown, highlighted.
    assert cli("rollout", "pause", "--token", TOKEN, url=old.url).returncode == 0
    post(new.url, worker("w-restart", config_version=b.version))
    post(new.url, worker("w-restart"))
    post(new.url, worker("w-restart", config_version=b.version))
    breached = cli("rollout", url=new.url)
    restarts = next(r for r in _section(breached.stdout, "gate signals") if "restarts" in r)
    assert restarts[-1] == "BREACHED" and restarts[1:3] == ["1", "0.0%"], restarts
    others = [r for r in _section(breached.stdout, "gate signals") if "restarts" not in r]
    assert [r[-1] for r in others] == ["ok"] * 3
    colored = cli("rollout", url=new.url, color=True).stdout
    assert "\x1b[1;31mrestarts" in colored and "\x1b[1;31mBREACHED" in colored
    assert "\x1b[1;31mfailures" not in colored

    aborted = cli("rollout", "abort", "--reason", "restarts", "--token", TOKEN, url=new.url)
    assert aborted.returncode == 0, aborted.stderr
    assert "aborted  step 1/2" in aborted.stdout and "reason: restarts" in aborted.stdout
    assert "cohorts" not in aborted.stdout  # closed: nobody is placed any more
    assert (
        json.loads(cli("config", "active", "-o", "json", url=old.url).stdout)["version"]
        == a.version
    )
    too_long = cli("rollout", "pause", "--reason", "x" * 201, "--token", TOKEN, url=old.url)
    assert too_long.returncode == 1 and "400" in too_long.stderr, too_long.stderr
    assert "(field: reason)" in too_long.stderr
    closed = cli("rollout", "promote", "--token", TOKEN, url=old.url)
    assert closed.returncode == 1 and "no rollout is running or paused" in closed.stderr
    usage = cli("rollout", "--reason", "why", url=old.url)
    assert usage.returncode == 2 and "--reason goes with an action" in usage.stderr
    bad = cli("rollout", "restart", url=old.url)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
