"""schemathesis over the full OpenAPI document against a real replica and a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import RedisServer, start_registry

CONFIG = Path(__file__).parents[1] / "schemathesis.toml"
#: Examples per operation and phase: bounded so the run takes well under a minute.
MAX_EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "25"))


@pytest.mark.timeout(900)
def test_every_operation_passes_every_schemathesis_check(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    proc = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_ADMIN_TOKEN="fuzz-token",
        REGISTRY_LOG_LEVEL="warning",
        # Long-polls (?wait=, ?follow=) answer within 0.2 s: fuzzing is not about waiting.
        REGISTRY_MAX_WAIT="0.2",
        # Which address classes to refuse is policy, not format: refuse none here.
        REGISTRY_REFUSE_ENDPOINTS="none",
    )
    exe = Path(sys.executable).with_name("schemathesis")
    try:
        out = subprocess.run(
            [
                str(exe),
                "--config-file",
                str(CONFIG),
                "run",
                f"{proc.url}/schema/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "20261201",
                "--workers",
                "1",
                "--header",
                "Authorization: Bearer fuzz-token",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=840,
            cwd=tmp_path,
            check=False,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    finally:
        proc.stop()
    report = out.stdout[-6000:] + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "server error" not in out.stdout.lower(), report
