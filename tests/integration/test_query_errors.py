"""A bad query or path parameter is a problem+json 400 naming the public parameter."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize(
    ("url", "field", "says"),
    [
        ("/agents?status=alive", "status", "must be one of healthy, degraded, suspect, expired"),
        ("/events?type=bogus", "type", "must be one of register, update, degraded"),
        ("/events?type=register&type=nope", "type", "must be one of register"),
        ("/config/diff?to=sha256:00", "from", "this query parameter is required"),
        ("/agents?limit=abc", "limit", "int"),
        ("/capabilities?namespace=Bad_NS", "namespace", "regex"),
        ("/agents/bad%20id", "agent_id", "regex"),
        ("/capabilities/greeting/providers?status=gone", "status", "must be one of"),
    ],
)
async def test_bad_parameter_is_a_problem_naming_it(
    client: AsyncTestClient[Any], url: str, field: str, says: str
) -> None:
    r = await client.get(url)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == field
    assert body["status"] == 400
    assert body["detail"].startswith(f"{field}: ")
    assert says in body["detail"]
    assert "type_" not in r.text and "from_version" not in r.text


async def test_event_cursor_that_is_not_a_stream_id_is_422_not_503(
    client: AsyncTestClient[Any],
) -> None:
    before = await _store_errors(client)
    r = await client.get("/events?cursor=%25")
    assert r.status_code == 422
    assert r.json()["field"] == "cursor"
    assert await _store_errors(client) == before


async def _store_errors(client: AsyncTestClient[Any]) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("registry_store_errors_total "):
            return float(line.split()[1])
    raise AssertionError("registry_store_errors_total is not exported")
