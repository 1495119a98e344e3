"""RegistryClients against a real replica process report how applying the delivered config
went: a callback that raises is reported ``failed`` with the error (and the client keeps
heartbeating on the version it tried, which is not delivered again); a clean apply is
reported ``applied``. Both reach the API and the stored record (``cs``, ``ce``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from config_bundles import client_registration, worker_bundle
from support import RedisServer, RegistryProcess, eventually, start_registry

from service.client import Backoff, ConfigUpdate, RegistryClient
from service.store.keys import Keys

pytestmark = pytest.mark.timeout(60)

INTERVAL = 0.3  # the worker profile's heartbeat_interval (tests/config_bundles.py)


async def test_clients_report_a_failed_and_a_clean_apply(
    tmp_path: Path,
    redis_url: str,
    redis_server: RedisServer,
    processes: list[RegistryProcess],
) -> None:
    bundle = worker_bundle(tmp_path / "a")
    assert bundle.path is not None
    replica = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_DEPLOY_REVISION="1",
        REGISTRY_LOG_LEVEL="warning",
    )
    processes.append(replica)
    attempts: list[ConfigUpdate] = []

    def broken(update: ConfigUpdate) -> None:
        attempts.append(update)
        raise KeyError("model")

    applied: list[ConfigUpdate] = []
    bad, good = (
        RegistryClient(
            [replica.url],
            client_registration(agent_id),
            interval=INTERVAL,
            backoff=Backoff(base=0.05, cap=0.5),
            on_config=callback,
        )
        for agent_id, callback in (("w-bad", broken), ("w-good", applied.append))
    )
    tasks = [asyncio.create_task(c.run()) for c in (bad, good)]
    try:
        async with httpx.AsyncClient(base_url=replica.url) as http:

            async def reported(agent_id: str) -> dict[str, Any] | None:
                r = await http.get(f"/agents/{agent_id}")
                view: dict[str, Any] = r.json()
                return view if r.status_code == 200 and view.get("config_status") else None

            failed = await eventually(lambda: reported("w-bad"))
            assert failed["config_version"] == bundle.version
            assert (failed["config_status"], failed["config_error"]) == (
                "failed",
                "KeyError: 'model'",
            )
            ok = await eventually(lambda: reported("w-good"))
            assert (ok["config_version"], ok["config_status"]) == (bundle.version, "applied")
            assert ok["config_error"] is None
            assert [u.version for u in applied] == [bundle.version]

            # The failing agent keeps heartbeating on the version it tried: it stays
            # healthy, and the payload is not delivered (nor tried) again.
            before = (await http.get("/agents/w-bad/health")).json()["last_heartbeat"]

            async def heartbeat_after() -> bool:
                health = (await http.get("/agents/w-bad/health")).json()
                return health["status"] == "healthy" and health["last_heartbeat"] > before

            await eventually(heartbeat_after)
            await asyncio.sleep(3 * INTERVAL)  # a few more ticks, in which nothing is re-tried
            assert [u.version for u in attempts] == [bundle.version]
            assert not any(t.done() for t in tasks)

        r = redis_server.client()
        try:
            keys = Keys()
            stored_bad = json.loads(r.get(keys.doc("default", "w-bad")))
            stored_good = json.loads(r.get(keys.doc("default", "w-good")))
        finally:
            r.close()
        assert (stored_bad["cfg"], stored_bad["cs"]) == (bundle.version, "failed")
        assert stored_bad["ce"] == "KeyError: 'model'"
        assert (stored_good["cfg"], stored_good["cs"]) == (bundle.version, "applied")
        assert "ce" not in stored_good
    finally:
        for c in (bad, good):
            c.stop()
        await asyncio.gather(*tasks)
