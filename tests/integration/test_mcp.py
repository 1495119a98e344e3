"""The MCP interface through the official MCP client against real replica processes.

Every tool is checked against the HTTP API's answer for the same data, so the two interfaces
cannot drift; bad arguments must come back as tool errors that name the field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_data import consumer, provider
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from support import RedisServer, RegistryProcess, start_registry

from service.bundle import write_bundle

TOOLS = {
    "agent_heartbeat",
    "list_available_agents",
    "get_capability_providers",
    "get_agent_health_status",
    "get_registry_metrics",
    "export_prometheus_metrics",
    "get_available_capabilities",
    "update_agent_capabilities",
    "validate_capability_dependencies",
    "get_config_rollout",
    "control_config_rollout",
}


def _steady(agents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Agents without ``last_seen``, which is derived per call as now - age (1 ms rounding)."""
    for a in agents:
        assert a["last_seen"] is not None
    return [{k: v for k, v in a.items() if k != "last_seen"} for a in agents]


@asynccontextmanager
async def mcp_session(base_url: str, **client: Any) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session on ``base_url``/mcp."""
    async with (
        streamable_http_client(f"{base_url}/mcp", **client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await session.call_tool(tool, args)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mcp") / "bundle"
    write_bundle(
        out,
        profiles={"greeter": {"profile": "greeter", "config": {"greeting": "hi"}}},
        catalog={"capabilities": [{"name": "greeting", "version": "1.0.0"}]},
        environment="dev",
        git={"commit": "abc", "branch": "main", "tag": None, "dirty": False},
        schema_versions={"profile": "1"},
    )
    return out


@pytest.fixture(scope="module")
def replica(redis_server: RedisServer, bundle_dir: Path) -> Iterator[RegistryProcess]:
    """One ``registry serve`` process with a bundle, shared by the read-mostly tests below.

    Only ``test_every_tool_answers_what_the_http_api_answers`` writes to it.
    """
    client = redis_server.client()
    client.flushall()
    client.close()
    proc = start_registry(
        bundle_dir.parent, REGISTRY_REDIS_URL=redis_server.url, REGISTRY_BUNDLE_DIR=str(bundle_dir)
    )
    yield proc
    proc.stop()


async def test_tools_list_shows_every_tool_with_input_and_output_schemas(
    replica: RegistryProcess,
) -> None:
    async with mcp_session(replica.url) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description and "\n" not in tool.description, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    heartbeat = listed["agent_heartbeat"]
    # The heartbeat tool takes the MCP Mesh body as it is, tools list included.
    assert heartbeat.input_schema["required"] == ["agent_id"]
    assert heartbeat.input_schema["properties"]["tools"]["type"] == "array"
    assert "dependencies_resolved" in heartbeat.output_schema["required"]  # type: ignore[index]
    providers = listed["get_capability_providers"].input_schema
    assert providers["required"] == ["capability"]
    assert providers["additionalProperties"] is False
    assert listed["get_registry_metrics"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert listed["agent_heartbeat"].annotations.read_only_hint is False  # type: ignore[union-attr]


async def test_every_tool_answers_what_the_http_api_answers(replica: RegistryProcess) -> None:
    async with (
        httpx.AsyncClient(base_url=replica.url, timeout=10) as http,
        mcp_session(replica.url) as session,
    ):
        assert (await http.post("/heartbeat", json=provider())).status_code == 200
        wired = await call(session, "agent_heartbeat", **consumer())
        assert wired["status"] == "success"
        [slot] = wired["dependencies_resolved"]["welcome"]
        assert (slot["status"], slot["agent_id"]) == ("available", "greeter-1")
        again = (await http.post("/heartbeat", json=consumer())).json()
        assert again["dependencies_resolved"] == wired["dependencies_resolved"]
        assert again["lease"] == wired["lease"]

        mcp_agents = await call(session, "list_available_agents", capability="welcome")
        http_agents = (await http.get("/agents", params={"capability": "welcome"})).json()
        assert [a["id"] for a in mcp_agents["agents"]] == ["welcomer-1"]
        assert _steady(mcp_agents["agents"]) == _steady(http_agents["agents"])
        everyone = await call(session, "list_available_agents", status="healthy", limit=1)
        assert everyone["count"] == 1 and everyone["next_cursor"]
        rest = await call(session, "list_available_agents", cursor=everyone["next_cursor"])
        assert {a["id"] for a in everyone["agents"] + rest["agents"]} == {
            "greeter-1",
            "welcomer-1",
        }

        mcp_prov = await call(
            session, "get_capability_providers", capability="greeting", tags=["english"]
        )
        http_prov = await http.get("/capabilities/greeting/providers", params={"tag": "english"})
        assert mcp_prov == http_prov.json()
        assert [p["agent_id"] for p in mcp_prov["providers"]] == ["greeter-1"]
        none = await call(session, "get_capability_providers", capability="greeting", version=">=2")
        assert none["providers"] == []

        mcp_health = await call(session, "get_agent_health_status", agent_id="greeter-1")
        http_health = (await http.get("/agents/greeter-1/health")).json()
        # Measured at each call; last_heartbeat is derived as now - age, so it may differ by
        # a millisecond of rounding between the two calls.
        moving = {"age_ms", "ttl_remaining_ms", "last_heartbeat"}
        assert {k: v for k, v in mcp_health.items() if k not in moving} == {
            k: v for k, v in http_health.items() if k not in moving
        }
        beats = [datetime.fromisoformat(h["last_heartbeat"]) for h in (mcp_health, http_health)]
        assert abs(beats[0] - beats[1]) <= timedelta(milliseconds=2)
        assert mcp_health["status"] == "healthy"

        mcp_metrics = await call(session, "get_registry_metrics")
        http_metrics = (await http.get("/registry/metrics")).json()
        assert mcp_metrics["agents"] == http_metrics["agents"]
        assert mcp_metrics["agents"]["total"] == 2
        assert mcp_metrics["version"] == http_metrics["version"]

        exposition = await session.call_tool("export_prometheus_metrics", {})
        http_text = (await http.get("/metrics")).text
        text = exposition.content[0].text  # type: ignore[union-attr]
        assert exposition.structured_content is not None
        assert exposition.structured_content["text"] == text

        def families(body: str) -> set[str]:
            return {line for line in body.splitlines() if line.startswith("# TYPE registry_")}

        assert "# TYPE registry_heartbeats_total counter" in families(text)
        assert families(text) == families(http_text)


async def test_config_resources_are_the_bundle_http_serves(replica: RegistryProcess) -> None:
    async with (
        httpx.AsyncClient(base_url=replica.url, timeout=10) as http,
        mcp_session(replica.url) as session,
    ):
        listed = {str(r.uri) for r in (await session.list_resources()).resources}
        assert listed == {"registry://config/active", "registry://config/capabilities"}
        for uri, path in (
            ("registry://config/active", "/config/active"),
            ("registry://config/capabilities", "/config/capabilities"),
        ):
            [content] = (await session.read_resource(uri)).contents
            assert content.mime_type == "application/json"
            assert json.loads(content.text) == (await http.get(path)).json()  # type: ignore[union-attr]


def _nest(depth: int) -> Any:
    return [] if depth == 0 else [_nest(depth - 1)]


_deep = {"x": _nest(40)}  # deeper than the edge allows (32), as on HTTP
_big = {"x": "k" * 70_000}
BAD_ARGUMENTS = [
    ("agent_heartbeat", {"name": "x"}, "agent_id"),
    ("agent_heartbeat", {"agent_id": "has space"}, "agent_id"),
    (
        "agent_heartbeat",
        {"agent_id": "a", "tools": [{"function_name": "f"}]},
        "tools[0].capability",
    ),
    (
        "agent_heartbeat",
        {"agent_id": "a", "tools": [{"function_name": "f", "capability": "c", "version": "x.y"}]},
        "tools[0].version",
    ),
    (
        "agent_heartbeat",
        {"agent_id": "a", "tools": [{"function_name": "f", "capability": "c", "kwargs": _deep}]},
        "arguments",
    ),
    (
        "agent_heartbeat",
        {"agent_id": "a", "tools": [{"function_name": "f", "capability": "c", "kwargs": _big}]},
        "tools[0].kwargs",
    ),
    ("list_available_agents", {"status": "sleeping"}, "status"),
    ("list_available_agents", {"version": ">>1"}, "version"),
    ("list_available_agents", {"cursor": "not a cursor!"}, "cursor"),
    ("list_available_agents", {"capabilty": "greeting"}, "capabilty"),
    ("get_capability_providers", {}, "capability"),
    ("get_capability_providers", {"capability": "greeting", "limit": 0}, "limit"),
    ("get_capability_providers", {"capability": "greeting", "limit": -5}, "limit"),
    ("get_capability_providers", {"capability": "greeting", "namespace": "UPPER"}, "namespace"),
    ("get_agent_health_status", {"agent_id": "a" * 65}, "agent_id"),
    ("get_agent_health_status", {"agent_id": "nobody"}, "agent_id"),  # not registered
    ("get_registry_metrics", {"verbose": True}, "verbose"),
]


def _sample(text: str, series: str) -> float:
    """The value of one exposition line, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


async def test_bad_arguments_are_tool_errors_naming_the_field(
    tmp_path: Path, redis_url: str
) -> None:
    proc = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    try:
        async with mcp_session(proc.url) as session:
            for tool, args, field in BAD_ARGUMENTS:
                result = await session.call_tool(tool, args)
                assert result.is_error, (tool, args)
                assert result.structured_content is not None
                assert result.structured_content["field"] == field, (tool, args, result.content)
                assert f"field: {field}" in result.content[0].text  # type: ignore[union-attr]
            # A rejected heartbeat stored nothing.
            listed = await call(session, "list_available_agents")
            assert listed["agents"] == []
            # MCP heartbeats count on the heartbeat metrics, rejected ones as invalid.
            rejected = sum(1 for tool, _, _ in BAD_ARGUMENTS if tool == "agent_heartbeat")
            assert (await call(session, "agent_heartbeat", **consumer()))["status"] == "success"
            # Without REGISTRY_ADMIN_TOKEN the admin tools are disabled, whatever is sent.
            refused = await session.call_tool("get_available_capabilities", {"agent_id": "a"})
            assert refused.is_error and refused.structured_content is not None
            assert refused.structured_content["status"] == 403
            assert refused.structured_content["field"] == "Authorization"
            assert "REGISTRY_ADMIN_TOKEN" in refused.content[0].text  # type: ignore[union-attr]
            # Without a bundle the config resources answer an error naming the setting.
            with pytest.raises(MCPError, match="REGISTRY_BUNDLE_DIR"):
                await session.read_resource("registry://config/active")
        async with httpx.AsyncClient(base_url=proc.url) as http:
            text = (await http.get("/metrics")).text
        assert _sample(text, 'registry_heartbeats_total{kind="mcp",result="invalid"}') == rejected
        assert _sample(text, 'registry_heartbeats_total{kind="mcp",result="ok"}') == 1
        assert _sample(text, 'registry_heartbeat_duration_seconds_count{kind="mcp"}') == 1
    finally:
        proc.stop()
