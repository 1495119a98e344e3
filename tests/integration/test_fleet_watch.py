"""A replica learns of another replica's activation from the history stream at once, not at
its next refresh tick (here a minute away, so only the watcher can explain the switch)."""

from __future__ import annotations

from pathlib import Path

from apps import ClientFactory
from config_bundles import worker_bundle
from support import eventually

SLOW = {"config_refresh": 60.0, "config_claim_ttl": 180.0}


async def test_activation_by_another_replica_is_served_before_the_next_refresh(
    app_client: ClientFactory, tmp_path: Path
) -> None:
    a = worker_bundle(tmp_path / "a", model="small")
    b = worker_bundle(tmp_path / "b", model="large")
    async with app_client(bundle_dir=a.path, deploy_revision=1, **SLOW) as one:
        assert (await one.get("/config/active")).json()["version"] == a.version
        async with app_client(bundle_dir=b.path, deploy_revision=2, **SLOW):

            async def one_serves(version: str) -> bool:
                return (await one.get("/config/active")).json()["version"] == version

            await eventually(lambda: one_serves(b.version), timeout=10)
            versions = (await one.get("/config/versions")).json()
            assert versions["active"]["version"] == b.version
            assert versions["replica"]["baked"] == a.version  # its image still holds A
        # The revision-2 replica withdrew its claim on shutdown, which activated A again
        # (a rollback): that too reaches the remaining replica through the stream.
        await eventually(lambda: one_serves(a.version), timeout=10)
        history = (await one.get("/config/versions")).json()["history"]
        assert [h["version"] for h in history[:3]] == [a.version, b.version, a.version]
