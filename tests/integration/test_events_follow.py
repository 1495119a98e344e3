"""``GET /events?follow=true``: a long-poll with a cursor that never loses its place.

Through a real server: the in-process test client serves one request at a time.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import httpx
from agents_data import provider
from support import RegistryProcess, start_registry

REG = {"type": "register"}  # only registrations: agents may turn degraded meanwhile


def events(url: str, **params: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/events", params={**REG, **params}, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_follow_returns_a_cursor_and_waits_for_the_next_event(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    httpx.post(f"{reg.url}/heartbeat", json=provider("a-1"), timeout=5).raise_for_status()
    assert events(reg.url)["next_cursor"] is None  # the plain list gives no place to resume
    first = events(reg.url, follow="true", wait="100ms")
    assert [(e["agent_id"], e["type"]) for e in first["events"]] == [("a-1", "register")]
    cursor = first["next_cursor"]
    assert cursor  # following always has a place to continue from

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(events, reg.url, follow="true", wait="30s", cursor=cursor)
        try:
            waiting.result(timeout=0.5)
            raise AssertionError("the long-poll answered before any new event")
        except concurrent.futures.TimeoutError:
            pass  # held open: nothing new yet
        httpx.post(f"{reg.url}/heartbeat", json=provider("b-1"), timeout=5).raise_for_status()
        later = waiting.result(timeout=20)
    assert [(e["agent_id"], e["type"]) for e in later["events"]] == [("b-1", "register")]

    quiet = events(reg.url, follow="true", wait="100ms", cursor=later["next_cursor"])
    assert quiet["events"] == []
    assert quiet["next_cursor"] == later["next_cursor"]  # the same place, not a restart


def test_follow_rejects_a_bad_wait(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    r = httpx.get(f"{reg.url}/events", params={"follow": "true", "wait": "soon"}, timeout=10)
    assert r.status_code in (400, 422)
    assert r.json()["field"] == "wait"
