"""Helpers for tests/image: rootful podman, builds through image/build.sh, containers by name.

Everything binds to 127.0.0.1 (``--network host`` with ``REGISTRY_HOST=127.0.0.1``) and is
removed afterwards: containers by name, images the tests derive by tag, Redis by pid.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
IMAGE_DIR = REPO / "image"
# What the build context holds (.dockerignore keeps the rest out).
CONTEXT_FILES = ("Containerfile", ".dockerignore", "pyproject.toml")
CONTEXT_DIRS = ("service", "buildtime", "schemas", "templates")
# Short config refresh so the fleet converges quickly (claim TTL > 2 x refresh).
FAST_CONFIG = {"REGISTRY_CONFIG_REFRESH": "0.2", "REGISTRY_CONFIG_CLAIM_TTL": "1"}


def report(config: pytest.Config, line: str) -> None:
    """Print a line to the terminal while the test runs (build times, image sizes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def containers_conf() -> str:
    """Run the preflight (installs podman/runc with apt if needed); the containers.conf path."""
    done = subprocess.run(
        ["bash", "-c", '. image/common.sh && image_preflight >&2 && echo "$CONTAINERS_CONF"'],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr.strip() or "image preflight failed")
    return done.stdout.strip()


@dataclass
class Podman:
    """Rootful podman with the project's containers.conf; remembers what to clean up."""

    conf: str
    prefix: str = field(default_factory=lambda: f"agent-registry-test-{os.getpid()}")
    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": self.conf}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def name(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        self.containers.append(name)
        return name

    def inspect(self, ref: str) -> dict[str, Any]:
        import json

        data: list[dict[str, Any]] = json.loads(self("image", "inspect", ref).stdout)
        return data[0]

    def logs(self, name: str) -> str:
        done = self("logs", name, check=False)
        return done.stdout + done.stderr

    def remove(self, name: str) -> None:
        self("rm", "--force", "--time", "2", "--ignore", name, check=False)

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            self.remove(name)
        for ref in self.images:
            self("rmi", "--force", "--ignore", ref, check=False)


@dataclass(frozen=True)
class Built:
    ref: str
    config_version: str
    commit: str  # HEAD when the build started: the label must name it
    summary: str  # image/build.sh's "image: built ... in X s ..., N MB"


def build(
    config: pytest.Config,
    podman: Podman,
    context: Path,
    *,
    dirty: bool = False,
    env: dict[str, str] | None = None,
    tag: str | None = None,
) -> Built:
    """Run image/build.sh on ``context``; ``env`` adds provenance overrides (GIT_*)."""
    env = {**podman.env, **({"GIT_DIRTY": "true"} if dirty else {}), **(env or {})}
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    done = subprocess.run(
        [
            str(IMAGE_DIR / "build.sh"),
            *("--env", "prod", "--context", str(context), "--quiet"),
            *(("--tag", tag) if tag else ()),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    summary = [line for line in done.stderr.splitlines() if line.startswith("image: built")][-1]
    for line in done.stderr.splitlines():
        if line.startswith("image: "):
            report(config, line)
    version = re.search(r"config (sha256:[0-9a-f]{64})", summary)
    assert version is not None, summary
    return Built(done.stdout.strip().splitlines()[-1], version[1], head, summary)


def copy_context(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy2(REPO / name, dest / name)
    for name in CONTEXT_DIRS:
        shutil.copytree(
            REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return dest


def helm_empty_dirs() -> list[str]:
    """Mount paths of the chart's emptyDir volumes: the only writable paths of a pod."""
    chart = REPO / "helm" / "agent-registry"
    text = (chart / "templates" / "deployment.yaml").read_text()
    values = yaml.safe_load((chart / "values.yaml").read_text())
    volumes = text.split("\n      volumes:", 1)[1]
    names = re.findall(r"- name: ([\w-]+)\n\s+emptyDir:", volumes)
    mounts = dict(re.findall(r"- name: ([\w-]+)\n\s+mountPath: (.+)", text))
    paths = []
    for name in names:
        path = mounts[name].strip()
        ref = re.fullmatch(r"\{\{\s*\.Values\.([\w.]+)\s*\}\}", path)
        if ref:
            node: Any = values
            for key in ref[1].split("."):
                node = node[key]
            path = str(node)
        paths.append(path)
    assert paths, "no emptyDir volume found in deployment.yaml"
    return paths


def run_args(empty_dirs: list[str]) -> list[str]:
    """``podman run`` options matching the chart: read-only root, emptyDirs as tmpfs."""
    args = ["--read-only", "--read-only-tmpfs=false", "--network", "host"]
    for path in empty_dirs:
        args += ["--tmpfs", f"{path}:rw,nosuid,nodev,mode=1777"]
    return args


def wait_ready(podman: Podman, name: str, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", name, check=False)
        if state.stdout.strip() in ("exited", "stopped"):
            break
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{name} not ready on {port} ({last!r}):\n{podman.logs(name)}")


def eventually(check: Any, *, timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``check`` until truthy; fail with its last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value: {value!r})")
        time.sleep(0.05)
