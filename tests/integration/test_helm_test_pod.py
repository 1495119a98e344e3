"""The chart's `helm test` pod command, run as rendered against real replicas."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from support import RedisServer, RegistryProcess, start_registry

TEMPLATE = Path(__file__).resolve().parents[2] / "helm" / "tools" / "template.py"


def rendered() -> tuple[dict[str, Any], dict[str, str]]:
    """The chart's test Pod and its Secret's data (decoded), rendered with the defaults
    (auth on: a generated admin token and the test pod's agent token)."""
    done = subprocess.run(
        [sys.executable, str(TEMPLATE), "--set", "redis.url=redis://r:6379/0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    return pod, data


def replica_env(data: dict[str, str]) -> dict[str, str]:
    """What the chart's replicas get: token auth with the Secret's tokens.json."""
    return {"REGISTRY_AUTH": "token", "REGISTRY_TOKENS": data["tokens.json"]}


def run_pod_command(
    pod: dict[str, Any], url: str, data: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    env["REGISTRY_URL"] = url  # the Service's DNS name, here a loopback replica
    if "TOKEN_FILE" in env:  # the mounted Secret key, here a file of the test's own
        token = workdir / "test-token"
        token.write_text(data["test-token"])
        env["TOKEN_FILE"] = str(token)
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
    pod, data = rendered()
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url, **replica_env(data))
    processes.append(reg)
    done = run_pod_command(pod, reg.url, data, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: ready, and a heartbeat round trip works" in done.stdout
    assert "HEAD /heartbeat/helm-test-1 after DELETE: 410" in done.stdout


def test_the_test_pod_fails_when_redis_is_gone(own_redis: RedisServer, tmp_path: Path) -> None:
    pod, data = rendered()
    reg = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=own_redis.url,
        REGISTRY_REDIS_TIMEOUT="0.3",
        **replica_env(data),
    )
    try:
        own_redis.stop()
        done = run_pod_command(pod, reg.url, data, tmp_path)
    finally:
        reg.stop()
    assert done.returncode != 0
    assert "FAIL GET /health/ready" in done.stderr
