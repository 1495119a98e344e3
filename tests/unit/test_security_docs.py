"""The token recipe in the README and docs/security.md gives the digest the registry checks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service.domain.identity import token_digest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["README.md", "docs/security.md"])
def test_the_minting_recipe_runs_and_matches(doc: str) -> None:
    text = (ROOT / doc).read_text()
    hashing = re.search(r"^printf %s \"\$TOKEN\" \| sha256sum.*$", text, re.M)
    assert hashing is not None, f"{doc} lost its hashing example"
    if shutil.which("openssl") is None or shutil.which("sha256sum") is None:
        pytest.fail("openssl and sha256sum are needed to run the documented recipe")
    token = subprocess.run(
        ["openssl", "rand", "-hex", "24"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest = subprocess.run(
        ["bash", "-c", hashing.group(0).split("#")[0]],
        env={"TOKEN": token, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert digest == token_digest(token)
    assert len(digest) == 64
