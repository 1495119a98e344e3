"""Packaging: the server installs no fakeredis; without it the embedded store says what to do."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from service.settings import Settings
from service.store.client import EmbeddedStoreMissing, make_client

ROOT = Path(__file__).resolve().parents[2]


def test_fakeredis_is_an_extra_and_the_client_needs_are_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("fakeredis") for d in project["dependencies"])
    assert any(d.startswith("fakeredis") for d in project["optional-dependencies"]["embedded"])
    assert any(d.startswith("httpx") for d in project["dependencies"])  # service/client


def test_missing_embedded_store_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fakeredis", None)  # as if the extra were not installed
    with pytest.raises(EmbeddedStoreMissing, match=r"agent-registry\[embedded\]"):
        make_client(Settings())
