"""Makefile targets a new user runs take the overrides the README documents."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("args", "port"), [((), "8000"), (("PORT=8123",), "8123")])
def test_make_run_takes_a_port(args: tuple[str, ...], port: str) -> None:
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "-n", "--no-print-directory", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    (serve,) = [line for line in done.stdout.splitlines() if "registry serve" in line]
    assert serve.endswith(f"--host 127.0.0.1 --port {port}")
