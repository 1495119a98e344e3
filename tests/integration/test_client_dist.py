"""The light client installs alone (httpx + msgspec) and docs/client.md's quickstart runs.

The wheel of ``client/`` is built with uv, installed into an empty virtualenv with only its
two dependencies (from uv's cache after ``make install``), and the quickstart, copied from
the Markdown as written, runs in that virtualenv against a real replica.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import RegistryProcess, start_registry

REPO = Path(__file__).resolve().parents[2]
UV = str(Path(sys.executable).with_name("uv"))
SERVER_ONLY = ("redis", "litestar", "jinja2", "uvicorn", "jsonschema", "fakeredis", "yaml")


def python_blocks(markdown: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"```python\n(.*?)```", markdown.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding the client wheel, httpx and msgspec, and nothing else."""
    root = tmp_path_factory.mktemp("client-dist")
    wheels = root / "wheels"
    uv(["build", "-q", "--wheel", "client", "-o", str(wheels)], cwd=REPO)
    (wheel,) = wheels.glob("agent_registry_client-*.whl")
    venv = root / "venv"
    uv(["venv", "-q", "--python", sys.executable, str(venv)])
    pins = [f"{d}=={importlib.metadata.version(d)}" for d in ("httpx", "msgspec")]
    python = venv / "bin" / "python"
    uv(["pip", "install", "-q", "--python", str(python), str(wheel), *pins])
    return python


def uv(args: list[str], cwd: Path | None = None) -> str:
    """Run uv; fail the test with its stderr."""
    out = subprocess.run([UV, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_client_distribution_has_no_server_dependency(client_venv: Path) -> None:
    probe = (
        "import importlib.util, json, service.client, service.models; "
        f"print(json.dumps([m for m in {SERVER_ONLY!r} if importlib.util.find_spec(m)]))"
    )
    out = subprocess.run(
        [str(client_venv), "-c", probe], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    freeze = uv(["pip", "freeze", "--python", str(client_venv)])
    names = sorted(line.split("==")[0].lower() for line in freeze.split())
    assert "agent-registry-client" in names
    assert "agent-registry" not in names


def test_the_readme_quickstart_runs_as_written(
    client_venv: Path, redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    (quickstart,) = python_blocks(REPO / "docs" / "client.md")
    script = tmp_path / "agent.py"
    script.write_text(quickstart)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "PYTHON"))}
    out = subprocess.run(
        [str(client_venv), str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the repository: `service` must come from the client wheel
        env={**env, "REGISTRY_URL": reg.url},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "wiring {}" in lines
    assert "provider greeter-1 http://127.0.0.1:9001 healthy" in lines
    assert any(re.fullmatch(r"health healthy ttl left \d+ ms", line) for line in lines), lines
    assert (tmp_path / ".registry-cache" / "greeter-1.json").is_file()
