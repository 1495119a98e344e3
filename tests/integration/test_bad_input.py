"""Bad input gets a 4xx problem naming the field, and never changes stored state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents_data import agent, consumer, provider, tool
from litestar.testing import AsyncTestClient
from support import RedisServer

GOOD = provider()


def _with(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def _tools(**changes: Any) -> dict[str, Any]:
    return _with(tools=[{**GOOD["tools"][0], **changes}])


def _raw_tool(fragment: bytes) -> bytes:
    return b'{"agent_id": "greeter-1", "tools": [{"function_name": "f", "capability": "c", ' + (
        fragment + b"}]}"
    )


def _nested(depth: int) -> bytes:
    """A heartbeat whose first tool's kwargs nest ``depth`` lists deep."""
    return _raw_tool(b'"kwargs": {"x": ' + b"[" * depth + b"]" * depth + b"}")


CASES: list[tuple[str, Any, int, str]] = [
    ("malformed json", b'{"agent_id": "greeter-1",', 400, "body"),
    ("missing agent_id", {k: v for k, v in GOOD.items() if k != "agent_id"}, 422, "agent_id"),
    ("invalid agent_id", _with(agent_id="greeter 1"), 422, "agent_id"),
    ("agent_id too long", _with(agent_id="g" * 65), 422, "agent_id"),
    ("too many tools", _with(tools=[tool(f"f{i}", "c") for i in range(65)]), 422, "tools"),
    (
        "too many dependencies",
        agent("greeter-1", tool("f", "c", deps=[{"capability": "x"}] * 33)),
        422,
        "tools[0].dependencies",
    ),
    ("oversized description", _tools(description="x" * 5000), 422, "tools[0].description"),
    ("oversized name", _with(name="n" * 200), 422, "name"),
    ("bad namespace format", _with(namespace="Team_A"), 422, "namespace"),
    ("bad port", _with(http_port=70000), 422, "http_port"),
    (
        "invalid semver constraint",
        consumer("greeter-1", dep={"capability": "greeting", "version": ">=1.0,<<2"}),
        422,
        "tools[0].dependencies[0].version",
    ),
    ("invalid tool version", _tools(version="one"), 422, "tools[0].version"),
    ("unknown config_status", _with(config_status="done"), 422, "config_status"),
    ("config_status not a string", _with(config_status=True), 422, "config_status"),
    ("oversized config_error", _with(config_error="e" * 513), 422, "config_error"),
    ("config_error not a string", _with(config_error={"why": "x"}), 422, "config_error"),
    ("wrong type", _with(tools="greet"), 422, "tools"),
    ("kwargs nested 40 deep", _nested(40), 422, "body"),
    ("kwargs nested 976 deep (once stored, then unreadable)", _nested(976), 422, "body"),
    ("kwargs nested 5000 deep (RecursionError)", _nested(5000), 422, "body"),
    ("invalid UTF-8", b'{"agent_id": "greeter-1", "name": "\xff"}', 400, "body"),
    ("truncated UTF-8 in kwargs", _raw_tool(b'"kwargs": {"x": "\xc3"}'), 400, "body"),
    ("oversized kwargs", _tools(kwargs={"x": "k" * 70_000}), 422, "tools[0].kwargs"),
    (
        "oversized inputSchema",
        _tools(inputSchema={"properties": {f"p{i}": {"type": "string"} for i in range(4000)}}),
        422,
        "tools[0].inputSchema",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_heartbeat_is_rejected_without_touching_state(
    client: AsyncTestClient[Any],
    redis_server: RedisServer,
    case: str,
    body: Any,
    status: int,
    field: str,
) -> None:
    assert (await client.post("/heartbeat", json=GOOD)).status_code == 200
    r = redis_server.client()
    # The event stream and the leader leases (sweep, drift) change on their own.
    keys = sorted(k for k in r.keys("*") if not k.endswith(b":ev") and b":lock:" not in k)
    snapshot = {k: r.dump(k) for k in keys}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.post(
        "/heartbeat", content=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == status
    assert problem["field"] == field
    assert field.rsplit(".", 1)[-1] in problem["detail"] or field == "body"
    after = sorted(k for k in r.keys("*") if not k.endswith(b":ev") and b":lock:" not in k)
    assert after == keys
    assert {k: r.dump(k) for k in after} == snapshot
    r.close()


async def test_body_over_limit_is_413(app_client: Any) -> None:
    async with app_client(max_body_bytes=4096) as client:
        big = _tools(inputSchema={"description": "x" * 8000})
        resp = await client.post("/heartbeat", json=big)
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert (await client.head("/heartbeat/greeter-1")).status_code == 410
