"""RegistryClient's heartbeat step against a scripted transport (no sockets, no timing)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.client import ConfigUpdate, DiscoveryError, DiskCache, RegistryClient, RestartRequired
from service.models import MAX_CONFIG_ERROR

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


def _ok(version: str, *, changed: bool, restart: bool = False) -> Any:
    answer = _answer(version, changed=changed)
    answer["config"]["restart_required"] = restart
    return lambda r: httpx.Response(200, json=answer)


async def test_a_clean_apply_is_reported_applied_with_the_version() -> None:
    script = Script(_ok("sha256:v1", changed=True), _ok("sha256:v1", changed=False))
    client = _client(script, on_config=lambda update: None)
    await client.tick()
    report = script.seen[1][2] or {}
    assert (report["config_version"], report["config_status"]) == ("sha256:v1", "applied")
    assert "config_error" not in report
    # Nothing to report before a config was applied: a stock MCP Mesh body.
    assert not {"config_version", "config_status", "config_error"} & set(script.seen[0][2] or {})


async def test_a_failing_config_callback_is_reported_and_the_loop_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(update: ConfigUpdate) -> None:
        raise ValueError(f"cannot load model from {update.version}")

    script = Script(_ok("sha256:v1", changed=True), _ok("sha256:v1", changed=False))
    client = _client(script, on_config=broken, cache_dir=tmp_path)
    with caplog.at_level(logging.ERROR, logger="service.client"):
        assert await client.tick() == 5.0  # a normal tick: no backoff, no failover
    assert client.current == 0 and client.registered
    # The POST right after the attempt reports it, on the version tried: the registry
    # answered "unchanged", so the same payload is not delivered again.
    report = script.seen[1][2] or {}
    assert report["config_version"] == "sha256:v1"
    assert report["config_status"] == "failed"
    assert report["config_error"] == "ValueError: cannot load model from sha256:v1"
    assert any(
        "sha256:v1" in rec.getMessage() and rec.exc_info is not None for rec in caplog.records
    )
    cached = DiskCache(tmp_path, "a-1").load()
    assert cached is not None
    assert (cached.config_version, cached.config_status) == ("sha256:v1", "failed")
    assert cached.config_error == report["config_error"]
    # Heartbeats go on (a HEAD now); a full POST keeps reporting the failure.
    script.steps += [lambda r: httpx.Response(202), _ok("sha256:v1", changed=False)]
    assert await client.tick() == 5.0
    assert [m for m, _, _ in script.seen[2:]] == ["HEAD", "POST"]
    assert (script.seen[3][2] or {})["config_status"] == "failed"
    # The next delivered config that applies cleanly clears the error.
    client.on_config = None
    script.steps += [
        lambda r: httpx.Response(202),
        _ok("sha256:v2", changed=True),
        _ok("sha256:v2", changed=False),
    ]
    await client.tick()
    report = script.seen[-1][2] or {}
    assert (report["config_version"], report["config_status"]) == ("sha256:v2", "applied")
    assert "config_error" not in report


async def test_a_long_config_error_is_truncated_to_the_wire_bound() -> None:
    def broken(update: ConfigUpdate) -> None:
        raise RuntimeError("x" * 5000)

    script = Script(_ok("sha256:v1", changed=True), _ok("sha256:v1", changed=False))
    client = _client(script, on_config=broken)
    await client.tick()
    error = (script.seen[1][2] or {})["config_error"]
    assert len(error) == MAX_CONFIG_ERROR and error.startswith("RuntimeError: xxx")


async def test_restart_required_is_not_a_failure(tmp_path: Path) -> None:
    restarts: list[str] = []
    script = Script(_ok("sha256:v2", changed=True, restart=True), _ok("sha256:v2", changed=False))
    client = _client(script, on_config=lambda u: None, on_restart=restarts.append)
    await client.tick()
    assert restarts == ["sha256:v2"]
    assert (script.seen[1][2] or {})["config_status"] == "applied"
    # A callback that raises RestartRequired itself asks for the same restart path: the
    # config is cached first, then the loop ends (no on_restart), not reported failed.

    def wants_restart(update: ConfigUpdate) -> None:
        raise RestartRequired(update.version)

    script = Script(_ok("sha256:v3", changed=True))
    client = _client(script, on_config=wants_restart, cache_dir=tmp_path)
    with pytest.raises(RestartRequired) as info:
        await client.tick()
    assert info.value.version == "sha256:v3"
    cached = DiskCache(tmp_path, "a-1").load()
    assert cached is not None
    assert (cached.config_version, cached.config_status) == ("sha256:v3", "applied")


async def test_a_cached_config_whose_callback_fails_is_reported_at_start(tmp_path: Path) -> None:
    script = Script(_ok("sha256:v1", changed=True), _ok("sha256:v1", changed=False))
    await _client(script, cache_dir=tmp_path).tick()

    def broken(update: ConfigUpdate) -> None:
        raise OSError("disk gone")

    script = Script(_ok("sha256:v1", changed=False))
    client = _client(script, on_config=broken, cache_dir=tmp_path)
    assert await client.load_cache()  # does not raise: run() would go on heartbeating
    await client.tick()
    report = script.seen[0][2] or {}
    assert (report["config_version"], report["config_status"]) == ("sha256:v1", "failed")
    assert report["config_error"] == "OSError: disk gone"


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
