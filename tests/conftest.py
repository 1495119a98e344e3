"""Fixtures shared by every suite. Redis fixtures start real ``redis-server`` processes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# loadtests/ is a dev tool at the repository root, not an installed package: tests import its
# helpers from there rather than keeping copies.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, settings
from support import RedisCluster, RedisSentinel, RedisServer

# Property tests: no deadline (two shared cores make timings noise), no example database
# left in the work tree, and fixtures shared across examples on purpose (one app, one Redis).
settings.register_profile(
    "registry",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("registry")

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "mcp-mesh-captures"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (tests flush it through ``redis_url``)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, flushed (data and scripts) before the test."""
    client = redis_server.client()
    client.flushall()
    client.script_flush()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A real three-master Redis Cluster for the session."""
    cluster = RedisCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    """A real master with one replica, watched by a real sentinel, for the session."""
    sentinel = RedisSentinel(tmp_path_factory.mktemp("sentinel"))
    try:
        sentinel.start(replicas=1)
        yield sentinel
    finally:
        sentinel.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server the test may stop and start (outages, restarts)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def captures_dir() -> Path:
    """Recorded MCP Mesh SDK <-> reference registry exchanges."""
    if not CAPTURES.is_dir():
        pytest.fail(
            f"MCP Mesh captures not found at {CAPTURES} (../shared must sit beside the repo)"
        )
    return CAPTURES


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
