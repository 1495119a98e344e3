"""A replica verifies and serves its baked bundle; per-profile thresholds come from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agents_data import provider
from apps import ClientFactory
from support import free_port, registry_env

from service.app import create_app
from service.bundle import BundleError, write_bundle
from service.settings import Settings, Thresholds

SLOW = Thresholds(heartbeat_interval=15, degraded_after=40, expire_after=90, retention=600)


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    profile = {
        "profile": "greeter",
        "description": "says hello",
        "thresholds": SLOW.to_dict(),
        "major_keys": ["/config/model"],
        "capabilities": [{"name": "greeting", "version": "1.0.0"}],
        "dependencies": [],
        "config": {"model": "small", "greeting": "hi"},
        "secrets": [],
    }
    write_bundle(
        out,
        profiles={"greeter": profile},
        catalog={"capabilities": [{"name": "greeting", "version": "1.0.0"}]},
        environment="dev",
        git={"commit": "abc", "branch": "main", "tag": None, "dirty": False},
        schema_versions={"profile": "1"},
    )
    return out


async def test_replica_serves_manifest_profiles_and_catalog(
    app_client: ClientFactory, bundle_dir: Path
) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    async with app_client(bundle_dir=bundle_dir) as client:
        active = (await client.get("/config/active")).json()
        assert active == manifest
        assert active["version"].startswith("sha256:")
        profile = (await client.get("/config/profiles/greeter")).json()
        assert profile["config"] == {"model": "small", "greeting": "hi"}
        missing = await client.get("/config/profiles/nobody")
        assert missing.status_code == 404
        assert missing.json()["field"] == "name"
        catalog = (await client.get("/config/capabilities")).json()
        assert catalog["capabilities"][0]["name"] == "greeting"
        ready = (await client.get("/health/ready")).json()
        assert ready["checks"] == {"config": "ok", "redis": "ok"}


async def test_bundle_thresholds_replace_defaults(
    app_client: ClientFactory, bundle_dir: Path
) -> None:
    async with app_client(bundle_dir=bundle_dir) as client:
        # MCP Mesh agents send no profile: the profile is the agent's name.
        body = (await client.post("/heartbeat", json=provider("greeter-7"))).json()
        assert body["lease"] == {"ttl_ms": 90000, "interval_ms": 15000}
        health = (await client.get("/agents/greeter-7/health")).json()
        assert health["expire_after_ms"] == 90000
        assert health["degraded_after_ms"] == 40000
        other = (await client.post("/heartbeat", json=provider("other-1"))).json()
        assert other["lease"] == {"ttl_ms": 20000, "interval_ms": 5000}


async def test_without_bundle_config_endpoints_say_so(client: Any) -> None:
    r = await client.get("/config/active")
    assert r.status_code == 404
    assert r.json()["field"] == "REGISTRY_BUNDLE_DIR"


def _tamper(bundle_dir: Path) -> None:
    path = bundle_dir / "profiles" / "greeter.json"
    payload = json.loads(path.read_text())
    payload["config"]["model"] = "huge"
    path.write_bytes(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())


def test_tampered_bundle_stops_app_creation(bundle_dir: Path) -> None:
    _tamper(bundle_dir)
    with pytest.raises(BundleError, match=r"profiles/greeter\.json"):
        create_app(Settings(bundle_dir=bundle_dir))


def test_incomplete_bundle_stops_app_creation(bundle_dir: Path) -> None:
    (bundle_dir / "catalog.json").unlink()
    with pytest.raises(BundleError, match=r"catalog\.json"):
        create_app(Settings(bundle_dir=bundle_dir))


def test_registry_process_refuses_to_start_on_tampered_bundle(bundle_dir: Path) -> None:
    _tamper(bundle_dir)
    exe = Path(sys.executable).with_name("registry")
    done = subprocess.run(
        [str(exe), "serve", "--port", str(free_port())],
        env=registry_env(REGISTRY_BUNDLE_DIR=str(bundle_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr
    assert "profiles/greeter.json" in done.stderr
