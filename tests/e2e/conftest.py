"""End-to-end fixtures: real registry processes and real MCP Mesh SDK agents.

The SDK lives in its own virtualenv, created once and cached outside the repository
(``~/.cache/agent-registry``), because ``mcp-mesh`` pins ``redis<7`` and ``mcp==1.28.1``
and those pins must not constrain the registry's own dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import RegistryProcess, start_registry

MESH_SPEC = "mcp-mesh>=3.8,<4"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agent-registry"
AGENTS = Path(__file__).parent / "agents"


@pytest.fixture(scope="session")
def mesh_python() -> Path:
    """Python of a cached virtualenv holding the MCP Mesh SDK."""
    venv = CACHE / "mesh-venv"
    python = venv / "bin" / "python"
    marker = venv / ".spec"
    if not (python.exists() and marker.exists() and marker.read_text() == MESH_SPEC):
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        shutil.rmtree(venv, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), MESH_SPEC],
            check=True,
            timeout=600,
        )
        marker.write_text(MESH_SPEC)
    return python


@pytest.fixture
def registry_process(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., RegistryProcess]]:
    """Factory: start ``registry serve`` against the test Redis; stopped at teardown."""
    started: list[RegistryProcess] = []

    def start(**env: str) -> RegistryProcess:
        proc = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url, **env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def mesh_agent(
    tmp_path: Path, mesh_python: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Factory: run one of ``agents/*.py`` with the SDK, bound to 127.0.0.1:port."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, port: int, registry_url: str, **extra: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_MESH_", "REGISTRY_"))}
        env.update(
            HOST="127.0.0.1",
            MCP_MESH_HTTP_HOST="127.0.0.1",
            MCP_MESH_HTTP_PORT=str(port),
            MCP_MESH_REGISTRY_URL=registry_url,
            PYTHONPATH=str(AGENTS),
            MCP_MESH_LOG_LEVEL="WARNING",
        )
        env.update(extra)
        with (tmp_path / f"{name}-{port}.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(mesh_python), str(AGENTS / f"{name}.py")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
