"""Builders for MCP Mesh-shaped heartbeat bodies."""

from __future__ import annotations

from typing import Any


def tool(
    fn: str,
    cap: str,
    *,
    version: str = "1.0.0",
    tags: list[str] | None = None,
    deps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``@mesh.tool`` entry."""
    out: dict[str, Any] = {
        "function_name": fn,
        "capability": cap,
        "version": version,
        "tags": tags or [],
        "description": f"{fn} tool",
        "kwargs": {"function_name": fn},
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
    }
    if deps:
        out["dependencies"] = deps
    return out


def agent(
    agent_id: str,
    *tools: dict[str, Any],
    port: int = 9000,
    namespace: str = "default",
    **extra: Any,
) -> dict[str, Any]:
    """A full ``POST /heartbeat`` body."""
    return {
        "agent_id": agent_id,
        "name": agent_id.rsplit("-", 1)[0],
        "agent_type": "mcp_agent",
        "version": "1.0.0",
        "http_host": "127.0.0.1",
        "http_port": port,
        "namespace": namespace,
        "status": "healthy",
        "runtime": "python",
        "tools": list(tools),
        **extra,
    }


def provider(
    agent_id: str = "greeter-1",
    *,
    cap: str = "greeting",
    version: str = "1.0.0",
    tags: list[str] | None = None,
    port: int = 9001,
    **extra: Any,
) -> dict[str, Any]:
    return agent(
        agent_id, tool("greet", cap, version=version, tags=tags or ["english"]), port=port, **extra
    )


def consumer(
    agent_id: str = "welcomer-1",
    *,
    dep: dict[str, Any] | None = None,
    port: int = 9002,
    **extra: Any,
) -> dict[str, Any]:
    dep = dep or {"capability": "greeting", "tags": ["english"]}
    return agent(agent_id, tool("welcome", "welcome", deps=[dep]), port=port, **extra)
