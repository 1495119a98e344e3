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
