"""The image files keep their fixes and the docs spell the image tag one way (no podman)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/buildtime.md", "helm/agent-registry/README.md")


@pytest.mark.parametrize("doc", DOCS)
def test_one_tag_spelling(doc: str) -> None:
    text = (REPO / doc).read_text()
    assert "-cfg-" in text
    assert re.search(r"-cfg\.", text) is None


def test_containerfile_fixes() -> None:
    text = (REPO / "Containerfile").read_text()
    assert "# syntax" not in text  # BuildKit would try to pull the frontend from a registry
    healthcheck = text.split("HEALTHCHECK", 1)[1].split("\n", 2)[1]
    assert "REGISTRY_PORT" in healthcheck
    assert "8000/health" not in healthcheck
    assert "must be the full 40-hex commit sha" in text
    assert "python -m venv" not in text  # a Debian base has python3 only


def test_make_targets_and_test_flow() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "\nimage: " in makefile
    assert "\nimage-test: " in makefile
    test_recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert "--ignore=tests/image" in test_recipe
    assert "image-test" in test_recipe
