"""Fixtures of tests/image: podman, the two image versions, the chart's writable paths."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from image_support import (
    REPO,
    Built,
    Podman,
    build,
    containers_conf,
    copy_context,
    helm_empty_dirs,
    report,
)


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    tool = Podman(containers_conf())
    try:
        yield tool
    finally:
        tool.cleanup()


@pytest.fixture(scope="session")
def images(
    request: pytest.FixtureRequest, podman: Podman, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Built, Built]:
    """v1: the repository as it is; v2: a copy with one prod value changed."""
    started = time.monotonic()
    v1 = build(request.config, podman, REPO)
    context = copy_context(tmp_path_factory.mktemp("v2") / "context")
    values = context / "templates" / "values" / "prod.toml"
    text = values.read_text()
    assert "sample_ratio = 0.1\n" in text
    values.write_text(text.replace("sample_ratio = 0.1\n", "sample_ratio = 0.25\n"))
    v2 = build(request.config, podman, context, dirty=True)
    report(request.config, f"image: both versions built in {time.monotonic() - started:.1f} s")
    assert v1.config_version != v2.config_version
    return v1, v2


@pytest.fixture(scope="session")
def empty_dirs() -> list[str]:
    return helm_empty_dirs()
