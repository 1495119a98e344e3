"""Integration fixtures: apps wired to a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from apps import ClientFactory
from config_bundles import worker_bundle
from litestar.testing import AsyncTestClient
from support import RegistryProcess

from service.app import create_app
from service.bundle import Bundle
from service.settings import Settings


@pytest.fixture
def app_client(redis_url: str) -> ClientFactory:
    """Factory: ``async with app_client(**settings) as client`` runs a replica's lifespan."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[AsyncTestClient[Any]]:
        settings = Settings(**{"redis_url": redis_url, "sweep_interval": 0.05, **overrides})
        async with AsyncTestClient(app=create_app(settings)) as client:
            yield client

    return make


@pytest.fixture
async def client(app_client: ClientFactory) -> AsyncIterator[AsyncTestClient[Any]]:
    """A replica with default (MCP Mesh) thresholds on the shared test Redis."""
    async with app_client() as c:
        yield c


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Bundle, Bundle]:
    """A, and B that changes the major key ``/config/model``."""
    return (
        worker_bundle(tmp_path / "a", model="small"),
        worker_bundle(tmp_path / "b", model="large"),
    )


@pytest.fixture
def processes() -> Iterator[list[RegistryProcess]]:
    """Registry processes a test starts (it appends them); all stopped after the test."""
    started: list[RegistryProcess] = []
    yield started
    for proc in started:
        proc.stop()
