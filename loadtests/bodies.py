"""MCP Mesh-shaped ``POST /heartbeat`` bodies for load, shaped like the recorded SDK traffic.

The shape follows ``../shared/mcp-mesh-captures/01_first_registration.json``: each tool carries
its schemas, their canonical forms and hashes, and ``kwargs``; consumers declare dependencies
with tags and a semver constraint. Bodies are deterministic in their index, so a rerun of the
same size registers the same fleet.
"""

from __future__ import annotations

import hashlib
from typing import Any

#: Capability families; agent ``i`` provides family ``i % families`` (see :func:`agent_body`).
FAMILIES = 500
#: Capability that exactly :data:`LOOKUP_PROVIDERS` agents provide at every fleet size, so a
#: provider lookup's answer is the same size at 1k and at 100k agents.
LOOKUP_CAPABILITY = "bench-lookup"
LOOKUP_PROVIDERS = 5

_INPUT = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
    "additionalProperties": False,
}
_OUTPUT = {"type": "string"}


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def tool(
    fn: str, capability: str, *, tags: list[str], deps: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One ``@mesh.tool`` entry as the MCP Mesh SDK sends it."""
    out: dict[str, Any] = {
        "function_name": fn,
        "capability": capability,
        "version": "1.2.0",
        "tags": tags,
        "description": f"{fn}: answers questions about {capability}",
        "inputSchema": _INPUT,
        "outputSchema": _OUTPUT,
        "inputSchemaCanonical": _INPUT,
        "inputSchemaHash": _hash(f"in:{capability}"),
        "outputSchemaCanonical": _OUTPUT,
        "outputSchemaHash": _hash("out:string"),
        "kwargs": {"task": False, "resume_cursor": False, "function_name": fn},
    }
    if deps:
        out["dependencies"] = deps
    return out


def dependency(capability: str) -> dict[str, Any]:
    """A required dependency with a plain tag, a preferred tag and a semver range."""
    return {
        "capability": capability,
        "tags": ["prod", "+fast"],
        "version": ">=1.0,<2",
        "namespace": "default",
        "required": True,
    }


def agent_body(
    i: int,
    *,
    prefix: str = "agent",
    tools: int = 2,
    port: int = 9000,
    depends_on: str = LOOKUP_CAPABILITY,
    families: int = FAMILIES,
) -> dict[str, Any]:
    """Agent ``i`` of a fleet: ``tools`` tools (1-4); every tool after the first has a dependency.

    Agent ``i`` provides ``svc-<i % FAMILIES>-a`` (and ``-b``, ``-c``…). Its dependencies are
    on ``depends_on``; by default :data:`LOOKUP_CAPABILITY`, whose few providers the harness
    registers first: then no later registration changes what a consumer depends on, and a
    seeded fleet answers HEAD with 200 (steady state) rather than 202. ``families=1``: every
    agent provides the same capabilities; ``families >= fleet size``: each its own.
    """
    fam = i % families
    suffixes = "abcd"[: max(1, min(tools, 4))]
    items = [
        tool(
            f"fn_{s}",
            f"svc-{fam}-{s}",
            tags=["prod", "fast" if i % 2 else "slow"],
            deps=[dependency(depends_on)] if n else None,
        )
        for n, s in enumerate(suffixes)
    ]
    return envelope(f"{prefix}-{i}", items, port=port + i % 1000)


def lookup_provider_body(i: int) -> dict[str, Any]:
    """One of the few providers of :data:`LOOKUP_CAPABILITY`."""
    items = [tool("lookup", LOOKUP_CAPABILITY, tags=["prod", "fast"])]
    return envelope(f"lookup-{i}", items, port=8000 + i)


def envelope(agent_id: str, tools: list[dict[str, Any]], *, port: int) -> dict[str, Any]:
    """The agent-level fields around ``tools``."""
    return {
        "agent_id": agent_id,
        "name": agent_id.rsplit("-", 1)[0],
        "agent_type": "mcp_agent",
        "version": "1.0.0",
        "http_host": "127.0.0.1",
        "http_port": port,
        "namespace": "default",
        "status": "healthy",
        "runtime": "python",
        "tools": tools,
    }
