"""A cold start imports only what a replica serving heartbeats needs."""

from __future__ import annotations

import subprocess
import sys

# Litestar loads its pydantic and attrs plugins when those packages are importable (the
# MCP SDK brings pydantic); the MCP SDK itself loads on the first /mcp request.
_PROBE = """
import sys
from service.app import create_app
from service.settings import Settings
create_app(Settings())
print(" ".join(m for m in ("pydantic", "attr", "mcp", "jsonschema", "jinja2", "fakeredis")
               if m in sys.modules))
"""


def test_building_the_app_imports_no_pydantic_attrs_mcp_or_embedded_store() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == []


def test_the_version_literal_is_the_project_version() -> None:
    import tomllib
    from pathlib import Path

    from service import __version__

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == __version__


# `registry serve` up to the point where uvicorn would bind: the stand-in loads the
# configuration the way uvicorn.run does (protocol classes and the app factory).
_SERVE_PROBE = """
import sys
import uvicorn

def loaded_only(app, **options):
    config = uvicorn.Config(app, **options)
    config.load()
    print(config.ws, " ".join(sorted(m for m in ("httpx", "rich", "service.cli.commands",
                                                 "websockets", "wsproto")
                                     if m in sys.modules)))

uvicorn.run = loaded_only
from service.cli import main
sys.exit(main(["serve", "--port", "0"]))
"""


def test_serve_loads_no_operator_command_code_and_no_websocket_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert done.stdout.split() == ["none"], done.stdout + done.stderr
