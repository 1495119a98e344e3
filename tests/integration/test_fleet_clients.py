"""RegistryClient fleets against real replica processes sharing one Redis: a rolling update
and a rollback converge without flapping; an outage runs on the disk cache; a major change
ends the client with the restart exit code."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from config_bundles import client_registration, worker_bundle
from support import RegistryProcess, eventually, free_port, registry_env, start_registry, wait_http

from service.client import Backoff, ConfigUpdate, RegistryClient, RestartRequired

pytestmark = pytest.mark.timeout(90)

REFRESH = 0.2
INTERVAL = 0.3  # the worker profile's heartbeat_interval (tests/config_bundles.py)
FLEET = 50


@pytest.fixture
def replicas(tmp_path: Path, redis_url: str) -> Iterator[list[RegistryProcess]]:
    started: list[RegistryProcess] = []
    yield started
    for proc in started:
        proc.stop()


def _env(redis_url: str, bundle: Path, revision: int) -> dict[str, str]:
    return {
        "REGISTRY_REDIS_URL": redis_url,
        "REGISTRY_BUNDLE_DIR": str(bundle),
        "REGISTRY_DEPLOY_REVISION": str(revision),
        "REGISTRY_CONFIG_REFRESH": str(REFRESH),
        # Well above REFRESH: a replica whose event loop stalls for longer than its claim TTL
        # (seen at 1.0 s on a loaded 2-core CI machine) loses its claim, the other revision
        # activates again and the history shows a flip-flop the code did right to record.
        # The rollback below does not wait for a lapse: a stopped replica withdraws.
        "REGISTRY_CONFIG_CLAIM_TTL": "3.0",
        "REGISTRY_LOG_LEVEL": "warning",
    }


class Agent:
    """One simulated agent: a RegistryClient recording every config it applies."""

    def __init__(self, agent_id: str, urls: list[str], cache: Path | None = None) -> None:
        self.applied: list[ConfigUpdate] = []
        self.client = RegistryClient(
            urls,
            client_registration(agent_id),
            cache_dir=cache,
            interval=INTERVAL,
            backoff=Backoff(base=0.05, cap=0.5),
            on_config=self.applied.append,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.client.run())

    @property
    def version(self) -> str | None:
        return self.client.state.config_version

    async def stop(self) -> None:
        self.client.stop()
        if self.task is not None:
            await self.task


async def _converged(fleet: list[Agent], version: str) -> bool:
    return all(a.version == version for a in fleet)


async def test_fleet_follows_rolling_update_and_rollback_without_flapping(
    tmp_path: Path, redis_url: str, replicas: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", greeting="hi")
    b = worker_bundle(tmp_path / "b", greeting="hello")  # a minor change
    assert a.path is not None and b.path is not None
    old = start_registry(tmp_path, **_env(redis_url, a.path, 1))
    replicas.append(old)
    new_port = free_port()
    new_url = f"http://127.0.0.1:{new_port}"
    # Half the fleet prefers the replica that does not exist yet: they fail over to `old`.
    fleet = [
        Agent(f"w-{i}", [old.url, new_url] if i % 2 else [new_url, old.url]) for i in range(FLEET)
    ]
    for agent in fleet:
        agent.start()
    try:
        await eventually(lambda: _converged(fleet, a.version), timeout=20, every=0.05)

        # Rolling update: a replica of revision 2 with bundle B starts; both keep serving.
        new = _serve(tmp_path, new_port, _env(redis_url, b.path, 2))
        replicas.append(new)
        async with httpx.AsyncClient() as http:

            async def claimed() -> bool:
                r = await http.get(f"{old.url}/config/versions")
                return bool(r.json()["active"]["version"] == b.version)

            await eventually(claimed, timeout=10, every=0.02)
            seen = time.monotonic()
            # Once a replica serves B, every agent has it within one heartbeat interval,
            # plus the other replica's refresh period; 1 s of slack for scheduling 50
            # clients in one event loop (a functional bound, not a benchmark).
            bound = INTERVAL + REFRESH + 1.0
            await eventually(lambda: _converged(fleet, b.version), timeout=bound, every=0.02)
            assert time.monotonic() - seen <= bound

            # Rollback: the revision-2 pods go away; their claims lapse; A is active again.
            new.stop()
            await eventually(lambda: _converged(fleet, a.version), timeout=10, every=0.05)
            history = (await http.get(f"{old.url}/config/versions")).json()["history"]
    finally:
        for agent in fleet:
            await agent.stop()

    # Exactly three activations (no flip-flop), and every agent applied A, B, A in order,
    # each with a higher generation: it never stepped back except on the rollback.
    assert [h["version"] for h in reversed(history)] == [a.version, b.version, a.version]
    for agent in fleet:
        assert [u.version for u in agent.applied] == [a.version, b.version, a.version]
        generations = [u.generation for u in agent.applied]
        assert generations == sorted(set(generations))


def _serve(workdir: Path, port: int, env: dict[str, str]) -> RegistryProcess:
    """Like ``start_registry`` but on a chosen port (clients already point at it)."""
    exe = Path(sys.executable).with_name("registry")
    log = workdir / f"registry-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=registry_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_http(f"http://127.0.0.1:{port}/health/live", proc=proc)
    return RegistryProcess(proc, port, log)


async def test_client_runs_on_its_cache_during_an_outage_then_catches_up_and_restarts(
    tmp_path: Path, redis_url: str, replicas: list[RegistryProcess]
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large")  # a major change
    assert a.path is not None and b.path is not None
    cache = tmp_path / "cache"
    first = start_registry(tmp_path, **_env(redis_url, a.path, 1))
    replicas.append(first)
    agent = Agent("w-1", [first.url], cache)
    agent.start()
    await eventually(lambda: _converged([agent], a.version), timeout=10)
    await agent.stop()
    first.stop()  # a graceful stop withdraws the claim

    # No registry answers: the agent starts on its last-known config from disk.
    port = free_port()
    agent = Agent("w-1", [f"http://127.0.0.1:{port}"], cache)
    agent.start()

    async def from_cache() -> bool:
        return bool(agent.applied) and agent.applied[0].from_cache

    await eventually(from_cache, timeout=5)
    assert agent.applied[0].version == a.version
    assert agent.applied[0].payload is not None
    assert agent.applied[0].payload["config"]["model"] == "small"
    assert agent.client.registered is False

    # A replica with a newer, major config appears on the agent's URL: it catches up and,
    # since /config/model changed, the client ends with the restart exit code.
    replicas.append(_serve(tmp_path, port, _env(redis_url, b.path, 2)))
    assert agent.task is not None
    with pytest.raises(RestartRequired) as info:
        await asyncio.wait_for(agent.task, timeout=20)
    assert info.value.exit_code == 75
    assert info.value.version == b.version
    assert agent.applied[-1].restart_required is True

    # After the restart the agent starts on the new config and no restart is asked again.
    again = Agent("w-1", [f"http://127.0.0.1:{port}"], cache)
    again.start()
    try:

        async def reported() -> bool:
            async with httpx.AsyncClient() as http:
                r = await http.get(f"http://127.0.0.1:{port}/agents/w-1")
                return bool(r.json().get("config_version") == b.version)

        await eventually(reported, timeout=10)
        assert [u.version for u in again.applied] == [b.version]
        assert again.applied[0].from_cache is True
    finally:
        await again.stop()
