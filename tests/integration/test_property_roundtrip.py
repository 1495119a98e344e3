"""Properties against a real Redis: anything accepted is stored, read back and listed; a
rejected heartbeat leaves every stored byte as it was."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from strategies import heartbeats
from support import RedisServer

from service.models import MAX_DEPTH

# No shrinking: against a real store a failing example is reported as found, at once.
_QUICK = (Phase.explicit, Phase.reuse, Phase.generate)


def _stored(key: bytes) -> bool:
    """Keys a request could touch: not the event stream (appended to by design) and not the
    background loops' leader leases (``Keys.lock``: the sweeper or drift leader may take or
    renew one between the two snapshots, whatever the request did)."""
    return not key.endswith(b":ev") and b":lock:" not in key


@settings(max_examples=30, phases=_QUICK)
@given(body=heartbeats(namespace="props"))
async def test_accepted_heartbeat_is_stored_read_back_and_listed(
    client: AsyncTestClient[Any], body: dict[str, Any]
) -> None:
    resp = await client.post("/heartbeat", json=body)
    assert resp.status_code == 200, resp.text
    agent = (await client.get(f"/agents/{body['agent_id']}")).json()
    assert agent["namespace"] == "props"
    assert sorted((c["function_name"], c["name"], c["version"]) for c in agent["capabilities"]) == (
        sorted((t["function_name"], t["capability"], t["version"]) for t in body["tools"])
    )
    listed = (await client.get("/agents", params={"namespace": "props", "limit": 1000})).json()
    assert body["agent_id"] in {a["id"] for a in listed["agents"]}
    for tool in body["tools"]:
        if "/" in tool["capability"] or tool["capability"] in (".", ".."):
            # Valid names with no providers URL: "/" splits the path segment, and every
            # HTTP client removes "." and ".." segments (RFC 3986) before sending.
            continue
        page = await client.get(
            f"/capabilities/{tool['capability']}/providers", params={"namespace": "props"}
        )
        assert page.status_code == 200, page.text
        offered = {(p["agent_id"], p["function_name"]): p for p in page.json()["providers"]}
        provider = offered[(body["agent_id"], tool["function_name"])]
        assert provider["kwargs"] in (tool["kwargs"], tool["kwargs"] or None)


def _nest(depth: int) -> Any:
    return [] if depth == 0 else [_nest(depth - 1)]


_BREAKERS = st.sampled_from(
    [
        ("agent_id", "bad id"),
        ("agent_id", "a" * 65),
        ("agent_id", "ok\n"),
        ("namespace", "Upper"),
        ("http_port", 70000),
        ("http_port", 1.5),
        ("version", "not a version"),
        ("tools", [{"function_name": "f"}]),
        ("tools", [{"function_name": "f", "capability": "c", "kwargs": {"x": _nest(MAX_DEPTH)}}]),
        ("tools", [{"function_name": "f", "capability": "c", "kwargs": {"x": "k" * 70_000}}]),
        (
            "tools",
            [
                {
                    "function_name": "f",
                    "capability": "c",
                    "dependencies": [{"capability": "d", "version": ">>1"}],
                }
            ],
        ),
    ]
)


@settings(max_examples=25, phases=_QUICK)
@given(good=heartbeats(namespace="props"), breaker=_BREAKERS)
async def test_rejected_heartbeat_leaves_stored_state_unchanged(
    client: AsyncTestClient[Any],
    redis_server: RedisServer,
    good: dict[str, Any],
    breaker: tuple[str, Any],
) -> None:
    assert (await client.post("/heartbeat", json=good)).status_code == 200
    field, value = breaker
    bad = {**good, field: value}
    r = redis_server.client()
    try:
        keys = sorted(k for k in r.keys("*") if _stored(k))
        before = {k: r.dump(k) for k in keys}
        resp = await client.post(
            "/heartbeat", content=json.dumps(bad), headers={"Content-Type": "application/json"}
        )
        assert 400 <= resp.status_code < 500, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        after = sorted(k for k in r.keys("*") if _stored(k))
        assert after == keys
        assert {k: r.dump(k) for k in after} == before
    finally:
        r.close()
