"""The chart's `helm test` pod command, run as rendered against real replicas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from support import RedisServer, RegistryProcess, start_registry

TEMPLATE = Path(__file__).resolve().parents[2] / "helm" / "tools" / "template.py"


def rendered_test_pod() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(TEMPLATE), "--set", "redis.url=redis://r:6379/0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (pod,) = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Pod"]
    return pod


def run_pod_command(pod: dict[str, Any], url: str) -> subprocess.CompletedProcess[str]:
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    env["REGISTRY_URL"] = url  # the Service's DNS name, here a loopback replica
    return subprocess.run(
        [sys.executable, *container["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_test_pod_passes_against_a_healthy_replica(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    done = run_pod_command(rendered_test_pod(), reg.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: ready, and a heartbeat round trip works" in done.stdout
    assert "HEAD /heartbeat/helm-test-1 after DELETE: 410" in done.stdout


def test_the_test_pod_fails_when_redis_is_gone(own_redis: RedisServer, tmp_path: Path) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=own_redis.url, REGISTRY_REDIS_TIMEOUT="0.3")
    try:
        own_redis.stop()
        done = run_pod_command(rendered_test_pod(), reg.url)
    finally:
        reg.stop()
    assert done.returncode != 0
    assert "FAIL GET /health/ready" in done.stderr
