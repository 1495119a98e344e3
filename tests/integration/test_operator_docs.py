"""docs/operators.md's examples run as written: the CLI block against a real replica, the
Grafana `make helm-template` line, and the scrape config through `promtool check config`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from agents_data import consumer, provider
from config_bundles import worker, worker_bundle
from support import RegistryProcess, start_registry

from service.domain.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operators.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def run_sh(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env={**os.environ, "PATH": f"{path}:{os.environ.get('PATH', '')}", "COLUMNS": "160", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_examples_run(redis_url: str, tmp_path: Path, processes: list[RegistryProcess]) -> None:
    slow = Thresholds(heartbeat_interval=5, degraded_after=60, expire_after=120, retention=300)
    bundle = worker_bundle(tmp_path / "bundle", thresholds=slow)
    reg = start_registry(
        tmp_path, REGISTRY_REDIS_URL=redis_url, REGISTRY_BUNDLE_DIR=str(bundle.path)
    )
    processes.append(reg)
    for body in (
        provider("greeter-1", tags=["english"]),
        provider("greeter-2", tags=["french"], port=9003),
        consumer("welcomer-1"),
        worker("w-1", config_version=bundle.version),
    ):
        httpx.post(f"{reg.url}/heartbeat", json=body, timeout=5).raise_for_status()
    cli = blocks("sh")[0]
    assert cli.count("registry ") >= 10
    done = run_sh(cli, REGISTRY_URL=reg.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "welcomer-1" in done.stdout and "greeter-1" in done.stdout
    assert bundle.version in done.stdout  # config active / versions


def test_grafana_example_renders_the_dashboard() -> None:
    (line,) = [b for b in blocks("sh") if "grafanaDashboard" in b]
    done = run_sh(line.replace("make ", "make -s --no-print-directory ", 1))
    assert done.returncode == 0, done.stderr
    assert "grafana_dashboard:" in done.stdout and "agent-registry.json" in done.stdout


def test_scrape_config_is_valid_for_prometheus(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make promtool`")
    (config,) = blocks("yaml")
    (tmp_path / "prometheus.yml").write_text(config)
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
