"""MCP across replicas and through Redis outages: stateless sessions, bounded tool errors."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from agents_data import consumer, provider
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from support import RedisServer, start_registry

from service.errors import StoreUnavailable
from service.mcp import McpEndpoint
from service.settings import Settings


class RoundRobinProxy:
    """A TCP proxy on loopback that sends each accepted connection to the next upstream."""

    def __init__(self, upstreams: list[int]) -> None:
        self.upstreams = upstreams
        self.hits: Counter[int] = Counter()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RoundRobinProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = self.upstreams[sum(self.hits.values()) % len(self.upstreams)]
        self.hits[port] += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def session_on(url: str, **client: Any) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(f"{url}/mcp", **client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_a_session_alternating_between_two_replicas_completes(
    tmp_path: Path, redis_url: str
) -> None:
    a, b = await asyncio.gather(
        *(asyncio.to_thread(start_registry, tmp_path, REGISTRY_REDIS_URL=redis_url) for _ in "ab")
    )
    # "Connection: close" makes the client open one connection per request, so the proxy's
    # round robin sends consecutive requests of one session to different replicas.
    http = httpx2.AsyncClient(headers={"Connection": "close"}, timeout=10)
    try:
        async with RoundRobinProxy([a.port, b.port]) as proxy, http:
            async with session_on(proxy.url, http_client=http) as session:
                tools = (await session.list_tools()).tools
                assert len(tools) == 11  # seven read/heartbeat tools and four admin
                for body in (provider(), consumer()):
                    result = await session.call_tool("agent_heartbeat", body)
                    assert not result.is_error, result.content
                wired = result.structured_content
                assert wired is not None
                assert wired["dependencies_resolved"]["welcome"][0]["agent_id"] == "greeter-1"
                for _ in range(2):  # each replica answers at least one listing
                    listed = await session.call_tool("list_available_agents", {})
                    assert listed.structured_content is not None
                    ids = {x["id"] for x in listed.structured_content["agents"]}
                    assert ids == {"greeter-1", "welcomer-1"}
                health = await session.call_tool(
                    "get_agent_health_status", {"agent_id": "greeter-1"}
                )
                assert health.structured_content is not None
                assert health.structured_content["status"] == "healthy"
            assert proxy.hits[a.port] >= 3 and proxy.hits[b.port] >= 3, proxy.hits
    finally:
        a.stop()
        b.stop()


REDIS_TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("agent_heartbeat", provider()),
    ("list_available_agents", {}),
    ("get_capability_providers", {"capability": "greeting"}),
    ("get_agent_health_status", {"agent_id": "greeter-1"}),
    ("get_registry_metrics", {}),
]


async def _all_fail_fast(session: ClientSession, within: float) -> None:
    for tool, args in REDIS_TOOLS:
        started = time.monotonic()
        result = await session.call_tool(tool, args, read_timeout_seconds=30)
        elapsed = time.monotonic() - started
        assert result.is_error, (tool, result.content)
        assert "registry is unavailable" in result.content[0].text, result.content  # type: ignore[union-attr]
        assert elapsed < within, (tool, elapsed)


async def test_tools_answer_an_error_quickly_while_redis_hangs_or_is_down(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    proc = start_registry(tmp_path, REGISTRY_REDIS_URL=own_redis.url, REGISTRY_REDIS_TIMEOUT="0.2")
    try:
        async with session_on(proc.url) as session:
            result = await session.call_tool("agent_heartbeat", provider())
            assert not result.is_error
            assert own_redis.proc is not None
            own_redis.proc.send_signal(signal.SIGSTOP)  # hangs: every call meets its timeout
            try:
                await _all_fail_fast(session, within=3.0)
            finally:
                own_redis.proc.send_signal(signal.SIGCONT)
            own_redis.stop()  # gone: connections are refused
            await _all_fail_fast(session, within=3.0)
            # Tools that need no Redis still work, and so does the session itself.
            text = await session.call_tool("export_prometheus_metrics", {})
            assert not text.is_error
            assert "registry_store_errors_total" in text.content[0].text  # type: ignore[union-attr]
    finally:
        proc.stop()


async def test_a_call_is_bounded_without_being_cancelled() -> None:
    endpoint = McpEndpoint(Settings(redis_timeout=0.01))
    assert endpoint.timeout == 2.0  # floor: a few round trips, never less than 2 s
    endpoint.timeout = 0.05
    release = asyncio.Event()
    finished = asyncio.Event()

    async def stubborn() -> None:
        # Behaves like redis-py mid-call: a cancel is swallowed and the call runs on.
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()
        finished.set()

    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.05s"):
        await endpoint.bounded(stubborn())
    assert time.monotonic() - started < 1.0
    assert endpoint.abandoned == 1  # kept referenced, not cancelled
    release.set()
    await asyncio.wait_for(finished.wait(), 1)
    await asyncio.sleep(0)
    assert endpoint.abandoned == 0
    assert await endpoint.bounded(asyncio.sleep(0, result="ok")) == "ok"
