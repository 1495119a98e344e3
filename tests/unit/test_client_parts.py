"""Client building blocks (no sockets): backoff bounds, the atomic disk cache, and what a
failing registry (503, refused connection) does to the client's state and URL."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from service.client import AgentState, Backoff, ConfigUpdate, DiskCache, RegistryClient
from service.settings import Settings, SettingsError


def test_backoff_grows_exponentially_with_jitter_and_stays_bounded() -> None:
    b = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    for i, d in enumerate(delays):
        raw = min(1.0, 0.1 * 2**i)
        assert raw / 2 <= d <= raw
    assert max(delays) <= 1.0
    b.reset()
    assert b.next_delay() <= 0.1


def test_cache_round_trips_and_replaces_atomically(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c", "agent-1")
    assert cache.load() is None
    state = AgentState(config_version="sha256:x", config_generation=3, config={"a": 1})
    cache.save(state)
    cache.save(AgentState(config_version="sha256:y", config_generation=4))
    loaded = cache.load()
    assert loaded is not None and loaded.config_version == "sha256:y"
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["agent-1.json"]  # no temp left


def test_cache_keeps_the_config_status_and_loads_files_written_without_it(
    tmp_path: Path,
) -> None:
    cache = DiskCache(tmp_path, "agent-1")
    failed = AgentState(
        config_version="sha256:x", config_status="failed", config_error="KeyError: 'model'"
    )
    cache.save(failed)
    assert cache.load() == failed
    # A cache file of an earlier client release: no status fields.
    cache.path.write_text('{"config_version": "sha256:x", "config_generation": 3, "config": {}}')
    old = cache.load()
    assert old is not None and old.config_version == "sha256:x"
    assert (old.config_status, old.config_error) == (None, None)


def test_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "agent-1.json").write_text("{not json")
    assert DiskCache(tmp_path, "agent-1").load() is None


def test_config_refresh_settings_are_validated() -> None:
    s = Settings.from_env({"REGISTRY_CONFIG_REFRESH": "0.5", "REGISTRY_CONFIG_CLAIM_TTL": "3"})
    assert (s.config_refresh, s.config_claim_ttl) == (0.5, 3.0)
    with pytest.raises(SettingsError, match="REGISTRY_CONFIG_CLAIM_TTL"):
        Settings.from_env({"REGISTRY_CONFIG_REFRESH": "2", "REGISTRY_CONFIG_CLAIM_TTL": "3"})
    with pytest.raises(SettingsError, match="REGISTRY_CONFIG_REFRESH"):
        Settings.from_env({"REGISTRY_CONFIG_REFRESH": "0"})


URLS = ["http://r1", "http://r2", "http://r3"]
WIRING = {
    "lookup": [
        {
            "agent_id": "geo-1",
            "endpoint": "http://127.0.0.1:9200",
            "function_name": "geo",
            "capability": "geocode",
            "status": "available",
        }
    ]
}
ASSIGNED = [{"name": "forecast", "version": "1.0.0"}]
PROBLEM_503 = {
    "type": "about:blank",
    "title": "Store unavailable",
    "status": 503,
    "detail": "the registry store is unavailable: Connection refused",
}


def _full_answer(*, changed: bool) -> dict[str, Any]:
    """A registry's POST answer: wiring, lease, config and capabilities."""
    config: dict[str, Any] = {
        "version": "sha256:v1",
        "generation": 7,
        "changed": changed,
        "restart_required": False,
    }
    caps: dict[str, Any] = {"version": "a:1", "changed": changed, "source": "assigned"}
    if changed:
        config |= {"payload": {"config": {"model": "small"}}}
        caps["assigned"] = ASSIGNED
    return {
        "status": "success",
        "message": "ok",
        "timestamp": "2026-11-21T00:00:00Z",
        "llm_tools": {},
        "agent_id": "w-1",
        "dependencies_resolved": WIRING,
        "lease": {"ttl_ms": 20000, "interval_ms": 5000},
        "config": config,
        "capabilities": caps,
    }


Handler = Callable[[httpx.Request], httpx.Response]


class Registries:
    """Scripted answers per (host, method), in order; records every request."""

    def __init__(self, answers: dict[tuple[str, str], list[Handler]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, dict[str, Any] | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = msgspec.json.decode(request.content) if request.content else None
        self.seen.append((request.url.host, request.method, body))
        return self.answers[(request.url.host, request.method)].pop(0)(request)


def _ok(body: dict[str, Any] | None = None) -> Handler:
    return lambda r: httpx.Response(200, json=body) if body is not None else httpx.Response(200)


def _unavailable(r: httpx.Request) -> httpx.Response:
    if r.method == "HEAD":
        return httpx.Response(503)
    return httpx.Response(
        503, json=PROBLEM_503, headers={"content-type": "application/problem+json"}
    )


def _refused(r: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


class Seen:
    """What the agent's callbacks received."""

    def __init__(self) -> None:
        self.config: list[ConfigUpdate] = []
        self.capabilities: list[Any] = []
        self.wiring: list[Any] = []


def _agent(registries: Registries, seen: Seen, cache: Path) -> RegistryClient:
    return RegistryClient(
        URLS,
        {"agent_id": "w-1", "name": "worker", "profile": "worker", "tools": []},
        cache_dir=cache,
        backoff=Backoff(base=0.01, cap=0.05),
        on_config=seen.config.append,
        on_capabilities=seen.capabilities.append,
        on_wiring=seen.wiring.append,
        transport=httpx.MockTransport(registries),
    )


async def test_a_503_keeps_wiring_config_and_capabilities_and_moves_to_the_next_url(
    tmp_path: Path,
) -> None:
    registries = Registries(
        {
            ("r1", "POST"): [_ok(_full_answer(changed=True)), _ok(_full_answer(changed=False))],
            ("r1", "HEAD"): [_unavailable],
            ("r2", "HEAD"): [lambda r: httpx.Response(202)],
            ("r2", "POST"): [_unavailable],
            ("r3", "POST"): [_ok(_full_answer(changed=False))],
        }
    )
    seen = Seen()
    client = _agent(registries, seen, tmp_path)
    assert await client.tick() == 5.0  # registered on r1; the lease's interval
    held = msgspec.structs.replace(client.state)
    assert held.wiring == WIRING
    assert (held.config_version, held.config) == ("sha256:v1", {"config": {"model": "small"}})
    assert (held.capabilities_version, held.capabilities) == ("a:1", ASSIGNED)
    cached = DiskCache(tmp_path, "w-1").load()
    assert cached == held

    # r1's Redis is down: HEAD 503. Nothing is dropped; the next try goes to r2, soon.
    delay = await client.tick()
    assert 0 < delay <= 0.05
    assert client.current == 1
    # r2 asks for a POST (202), then answers it with a 503 problem: still nothing dropped,
    # and the POST reported the versions the agent runs, not a blank registration.
    delay = await client.tick()
    assert 0 < delay <= 0.05
    assert client.current == 2
    _, _, report = registries.seen[4]
    assert report is not None
    assert (report["config_version"], report["capabilities_version"]) == ("sha256:v1", "a:1")
    # The POST is still due; r3 answers it: the client stays there, at the lease interval.
    assert await client.tick() == 5.0
    assert client.current == 2
    assert [(h, m) for h, m, _ in registries.seen] == [
        ("r1", "POST"),
        ("r1", "POST"),
        ("r1", "HEAD"),
        ("r2", "HEAD"),
        ("r2", "POST"),
        ("r3", "POST"),
    ]
    assert client.state == held
    assert DiskCache(tmp_path, "w-1").load() == held
    # Every callback ran once, for the first answer; the failures changed nothing.
    assert [u.version for u in seen.config] == ["sha256:v1"]
    assert seen.capabilities == [ASSIGNED]
    assert seen.wiring == [WIRING]


async def test_an_unreachable_registry_fails_over_with_bounded_backoff_and_keeps_state(
    tmp_path: Path,
) -> None:
    registries = Registries(
        {
            ("r1", "POST"): [_ok(_full_answer(changed=True)), _ok(_full_answer(changed=False))],
            ("r1", "HEAD"): [_refused],
            ("r2", "HEAD"): [_refused],
            ("r3", "HEAD"): [_unavailable],
        }
    )
    seen = Seen()
    client = _agent(registries, seen, tmp_path)
    await client.tick()
    held = msgspec.structs.replace(client.state)
    delays = [await client.tick() for _ in range(3)]
    assert all(0 < d <= 0.05 for d in delays)
    assert client.current == 0  # r1 -> r2 -> r3 -> back to r1
    assert [h for h, m, _ in registries.seen if m == "HEAD"] == ["r1", "r2", "r3"]
    assert client.state == held
    assert seen.wiring == [WIRING]
