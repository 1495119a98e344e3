"""Slow clients cannot hold a replica: body and idle timeouts, a connection cap (the header
and body read timers of service/httpserver.py: test_http_timers.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from support import RedisServer, RegistryProcess, start_registry

HEADER_S, BODY_S = 1.0, 1.0  # HEADER_S: the keep-alive (idle) timeout here


@pytest.fixture(scope="module")
def replica(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[RegistryProcess]:
    proc = start_registry(
        tmp_path_factory.mktemp("slow"),
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_KEEPALIVE_TIMEOUT=str(HEADER_S),
        REGISTRY_BODY_READ_TIMEOUT=str(BODY_S),
        REGISTRY_MAX_CONNECTIONS="2",
    )
    yield proc
    proc.stop()


def _until_closed(s: socket.socket, limit: float = 10.0) -> tuple[float, bytes]:
    """Seconds until the server closes ``s``, and everything it sent meanwhile."""
    started, data = time.monotonic(), b""
    s.settimeout(limit)
    while time.monotonic() - started < limit:
        try:
            chunk = s.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return time.monotonic() - started, data


def _connect(replica: RegistryProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", replica.port), 5)


def test_slow_body_client_gets_408_after_the_body_timeout(replica: RegistryProcess) -> None:
    with _connect(replica) as s:
        s.sendall(
            b"POST /heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200\r\n\r\n{"agent_id": '
        )
        took, data = _until_closed(s)
    assert data.startswith(b"HTTP/1.1 408"), data
    assert b"application/problem+json" in data and b"REGISTRY_BODY_READ_TIMEOUT" in data
    assert BODY_S * 0.8 <= took < BODY_S + 3


def test_idle_kept_alive_connection_is_closed_after_the_idle_timeout(
    replica: RegistryProcess,
) -> None:
    with _connect(replica) as s:
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        took, data = _until_closed(s)
    assert data.startswith(b"HTTP/1.1 200")
    assert took < HEADER_S + 3


def test_connections_over_the_limit_are_shed_with_503(replica: RegistryProcess) -> None:
    held = [_connect(replica) for _ in range(2)]
    try:
        for s in held:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # slow, holding a slot
        time.sleep(0.2)
        started = time.monotonic()
        with _connect(replica) as s:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            _, data = _until_closed(s)
        waited = time.monotonic() - started
    finally:
        for s in held:
            s.close()
    # Answered at once, not queued behind the slow ones.
    assert data.startswith(b"HTTP/1.1 503"), data
    assert waited < 1.0


def test_settings_reach_the_server() -> None:
    from service.cli import server_options
    from service.settings import Settings

    s = Settings.from_env(
        {
            "REGISTRY_KEEPALIVE_TIMEOUT": "12",
            "REGISTRY_BODY_READ_TIMEOUT": "3",
            "REGISTRY_MAX_CONNECTIONS": "50",
        }
    )
    options = server_options(s)
    assert options["timeout_keep_alive"] == 12.0
    assert options["limit_concurrency"] == 50
    assert s.body_read_timeout == 3.0
