"""HEAD on every GET (``curl -I``), and unknown heartbeat fields: accepted, counted, logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.models import HeartbeatRequest

_AGENT = {
    "agent_id": "greeter-1",
    "name": "greeter",
    "http_host": "127.0.0.1",
    "http_port": 9001,
    "tools": [{"function_name": "greet", "capability": "greeting", "version": "1.2.0"}],
}


async def _metric(client: AsyncTestClient[Any], name: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize(
    "url",
    [
        "/agents",
        "/agents/greeter-1",
        "/capabilities",
        "/capabilities/greeting/providers",
        "/events",
    ],
)
async def test_head_on_a_get_answers_its_status_and_headers(
    client: AsyncTestClient[Any], url: str
) -> None:
    assert (await client.post("/heartbeat", json=_AGENT)).status_code == 200
    got = await client.get(url)
    head = await client.head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers.get("etag") == got.headers.get("etag")
    assert head.headers["content-length"] == str(len(got.content))


async def test_head_with_if_none_match_is_304(client: AsyncTestClient[Any]) -> None:
    assert (await client.post("/heartbeat", json=_AGENT)).status_code == 200
    etag = (await client.get("/capabilities/greeting/providers")).headers["etag"]
    head = await client.head("/capabilities/greeting/providers", headers={"if-none-match": etag})
    assert head.status_code == 304


async def test_unknown_top_level_fields_are_accepted_counted_and_logged_once(
    client: AsyncTestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    assert "zz_future_field" not in HeartbeatRequest.__struct_fields__
    before = await _metric(client, "registry_heartbeat_unknown_fields_total")
    caplog.set_level(logging.DEBUG, logger="service.heartbeat")
    for _ in range(3):
        r = await client.post("/heartbeat", json={**_AGENT, "zz_future_field": {"x": 1}})
        assert r.status_code == 200
    assert (await client.post("/heartbeat", json=_AGENT)).status_code == 200
    assert await _metric(client, "registry_heartbeat_unknown_fields_total") == before + 3
    lines = [r for r in caplog.records if "zz_future_field" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.DEBUG
