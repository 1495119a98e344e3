"""service.domain is pure: importing it pulls in no web, MCP, store or Redis code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("litestar", "redis", "service.api", "service.mcp", "service.store")


def test_domain_imports_no_io_layer() -> None:
    code = (
        "import sys\n"
        "import service.domain.catalog, service.domain.constraints, service.domain.depgraph\n"
        "import service.domain.matching, service.domain.tags, service.domain.thresholds\n"
        f"bad = [m for m in sys.modules if m.startswith({FORBIDDEN!r})]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
