"""Integration fixtures: apps wired to a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from apps import ClientFactory
from litestar.testing import AsyncTestClient

from service.app import create_app
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
