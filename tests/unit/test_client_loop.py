"""RegistryClient's heartbeat step against a scripted transport (no sockets, no timing)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from service.client import ConfigUpdate, DiscoveryError, RegistryClient

REG = {"agent_id": "a-1", "name": "worker", "profile": "worker", "tools": []}


def _answer(version: str, *, changed: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": version,
        "generation": 5,
        "changed": changed,
        "restart_required": False,
    }
    if changed:
        config |= {"payload": {"greeting": "hi"}}
    return {
        "status": "success",
        "message": "ok",
        "agent_id": "a-1",
        "timestamp": "2026-11-21T00:00:00Z",
        "llm_tools": {},
        "dependencies_resolved": {},
        "lease": {"ttl_ms": 20000, "interval_ms": 5000},
        "config": config,
    }


class Script:
    """Answers requests from a list of callables and records what was sent."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.seen: list[tuple[str, str, dict[str, Any] | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.seen.append((request.method, request.url.path, body))
        out: httpx.Response = self.steps.pop(0)(request)
        return out


def _client(script: Script, **kwargs: Any) -> RegistryClient:
    return RegistryClient(
        ["http://r1", "http://r2"], REG, transport=httpx.MockTransport(script), **kwargs
    )


async def test_applied_config_is_reported_in_the_same_tick() -> None:
    applied: list[ConfigUpdate] = []
    script = Script(
        lambda r: httpx.Response(200, json=_answer("sha256:v1", changed=True)),
        lambda r: httpx.Response(200, json=_answer("sha256:v1", changed=False)),
    )
    client = _client(script, on_config=applied.append)
    assert await client.tick() == 5.0  # the lease's interval
    assert [u.version for u in applied] == ["sha256:v1"]
    # The second POST tells the registry (and /drift) the agent runs v1 now.
    assert [(m, p) for m, p, _ in script.seen] == [("POST", "/heartbeat"), ("POST", "/heartbeat")]
    assert "config_version" not in (script.seen[0][2] or {})
    assert (script.seen[1][2] or {})["config_version"] == "sha256:v1"
    # Nothing left to report: the next tick is a HEAD.
    script.steps.append(lambda r: httpx.Response(200))
    await client.tick()
    assert script.seen[-1][:2] == ("HEAD", "/heartbeat/a-1")


async def test_a_connection_closed_under_reuse_is_retried_once_on_the_same_registry() -> None:
    def closed(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    script = Script(closed, lambda r: httpx.Response(200, json=_answer("sha256:v1", changed=False)))
    client = _client(script)
    await client.tick()
    assert client.current == 0  # no failover, no backoff
    assert client.registered
    assert [p for _, p, _ in script.seen] == ["/heartbeat", "/heartbeat"]


async def test_two_closed_connections_in_a_row_fail_over() -> None:
    def closed(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    client = _client(Script(closed, closed))
    delay = await client.tick()
    assert client.current == 1  # the next URL
    assert 0 < delay <= client.backoff.cap
    assert not client.registered


async def test_a_200_that_is_not_a_json_object_fails_over_instead_of_ending_the_loop() -> None:
    script = Script(
        lambda r: httpx.Response(200, text="<html>ingress</html>"),
        lambda r: httpx.Response(200, json=["not", "an", "object"]),
    )
    client = _client(script)
    assert 0 < await client.tick() <= client.backoff.cap
    assert client.current == 1 and not client.registered
    await client.tick()
    assert client.current == 0 and not client.registered
    assert client.state.wiring is None


async def test_async_with_heartbeats_until_the_block_ends_and_decodes_reads() -> None:
    providers = {
        "capability": "greeting",
        "count": 1,
        "next_cursor": None,
        "providers": [
            {
                "agent_id": "g-1",
                "function_name": "greet",
                "capability": "greeting",
                "version": "1.2.0",
                "tags": ["english"],
                "endpoint": "http://127.0.0.1:9001",
                "namespace": "default",
                "status": "healthy",
            }
        ],
    }
    script = Script(
        lambda r: httpx.Response(200, json=_answer("sha256:v1", changed=False)),
        lambda r: httpx.Response(200, json=providers),
        lambda r: httpx.Response(
            404, json={"title": "Not Found", "status": 404, "detail": "agent 'x' is not registered"}
        ),
    )
    client = _client(script)
    async with client:
        async with asyncio.timeout(5):
            await client.wait_registered()
        page = await client.providers("greeting", tags=["english"])
        assert page.providers[0].endpoint == "http://127.0.0.1:9001"  # a ProvidersPage
        with pytest.raises(DiscoveryError) as err:
            await client.agent("x")
        assert err.value.status == 404 and "not registered" in err.value.detail
    assert client._task is None  # the loop ended with the block
    assert [(m, p) for m, p, _ in script.seen] == [
        ("POST", "/heartbeat"),
        ("GET", "/capabilities/greeting/providers"),
        ("GET", "/agents/x"),
    ]
