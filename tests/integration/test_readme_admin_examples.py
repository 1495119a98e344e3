"""The README's capability-injection examples run as written against a real replica serving
the dev bundle built from the shipped templates (so their capability names exist)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from agents_data import agent, tool
from config_bundles import worker_bundle
from support import RegistryProcess, start_registry

REPO = Path(__file__).resolve().parents[2]
TOKEN = "readme-admin-token-0123"


def sh_block_after(heading: str) -> str:
    """The first ```sh block that follows ``heading`` in README.md."""
    text = (REPO / "README.md").read_text()
    assert heading in text, f"README.md has no {heading!r}"
    match = re.search(r"```sh\n(.*?)```", text.split(heading, 1)[1], flags=re.S)
    assert match, f"no sh block after {heading!r}"
    return match.group(1)


def run_curls(block: str, url: str, *, curls: int, **replace: str) -> None:
    """Run a README block of curl calls against ``url`` with ``$T`` the admin token; every call
    must answer 2xx (``--fail-with-body``), and the block must hold exactly ``curls`` calls."""
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed")
    script = block.replace("localhost:8000", url)
    for old, new in replace.items():
        script = script.replace(old, new)
    script = script.replace("curl ", "curl --fail-with-body -sS -o /dev/null ")
    assert script.count("curl ") == curls, script
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"T": TOKEN, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_capability_injection_examples_run(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    bundle = tmp_path / "bundle"
    build = Path(sys.executable).with_name("registry-build")
    version = subprocess.run(
        [str(build), "build", "--env", "dev", "--out", str(bundle), "-q", "--root", str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    reg = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_BUNDLE_DIR=str(bundle),
        REGISTRY_ADMIN_TOKEN=TOKEN,
    )
    processes.append(reg)
    body = agent("a-1", tool("forecast", "weather-forecast", version="1.2.0"))
    httpx.post(f"{reg.url}/heartbeat", json=body, timeout=5).raise_for_status()

    block = sh_block_after("Capability injection")
    assert "weather-forecast" in block
    run_curls(block, reg.url, curls=5, **{"sha256:…": version})
    # The assignment took effect: the agent's next heartbeat carries it.
    answer = httpx.post(f"{reg.url}/heartbeat", json=body, timeout=5).json()
    assert {"name": "weather-forecast", "version": "1.2.0"} in answer["capabilities"]["assigned"]


def test_rollout_examples_run_against_a_running_rollout(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    """The ```sh block after "Config rollouts with a health gate": read, pause, resume,
    promote and abort a real rollout, in that order, each answered 2xx."""
    block = sh_block_after("Config rollouts with a health gate")
    a = worker_bundle(tmp_path / "a", greeting="hi")
    policy = {"steps": [{"share": 50, "hold_seconds": 600}, {"share": 100}]}
    b = worker_bundle(tmp_path / "b", greeting="hello", rollout=policy)
    for bundle, revision in ((a, 1), (b, 2)):
        processes.append(
            start_registry(
                tmp_path,
                REGISTRY_REDIS_URL=redis_url,
                REGISTRY_BUNDLE_DIR=str(bundle.path),
                REGISTRY_DEPLOY_REVISION=str(revision),
                REGISTRY_ADMIN_TOKEN=TOKEN,
            )
        )
    url = processes[0].url
    state = httpx.get(f"{url}/config/rollout", timeout=5).json()["state"]
    assert state == "running"
    run_curls(block, url, curls=5)
    view = httpx.get(f"{url}/config/rollout", timeout=5).json()
    assert view["state"] == "aborted"
    assert [d["decision"] for d in reversed(view["decisions"])] == [
        "start", "pause", "resume", "promote", "aborted"
    ]  # fmt: skip
