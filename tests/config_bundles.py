"""Small config bundles for the fleet-config tests, written with the real bundle writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents_data import agent, tool

from service.bundle import Bundle, write_bundle
from service.settings import Thresholds

CATALOG: dict[str, Any] = {
    "capabilities": [
        {"name": "geocode", "versions": ["1.3.0", "1.4.0"], "description": "geo"},
        {
            "name": "forecast",
            "versions": ["1.0.0"],
            "description": "weather",
            "dependencies": [{"capability": "geocode", "version": "^1.0"}],
        },
        {"name": "search", "versions": ["1.0.0"], "description": "search"},
        {
            "name": "ping",
            "versions": ["1.0.0"],
            "description": "needs pong",
            "dependencies": [{"capability": "pong", "version": "*"}],
        },
        {
            "name": "pong",
            "versions": ["1.0.0"],
            "description": "needs ping",
            "dependencies": [{"capability": "ping", "version": "*"}],
        },
    ]
}


def worker_bundle(
    out: Path,
    *,
    model: str = "small",
    greeting: str = "hi",
    thresholds: Thresholds | None = None,
    profile: str = "worker",
    rollout: dict[str, Any] | None = None,
) -> Bundle:
    """A bundle with one profile; ``/config/model`` is a major key, ``greeting`` is minor."""
    thr = thresholds or Thresholds(
        heartbeat_interval=0.3, degraded_after=1.0, expire_after=3.0, retention=5.0
    )
    payload = {
        "profile": profile,
        "description": "test worker",
        "thresholds": thr.to_dict(),
        "major_keys": ["/config/model"],
        "capabilities": [{"name": "search", "version": "1.0.0"}],
        "dependencies": [],
        "config": {"model": model, "greeting": greeting},
        "secrets": [],
    }
    return write_bundle(
        out,
        profiles={profile: payload},
        catalog=CATALOG,
        environment="test",
        git={"commit": "abc", "branch": "main", "tag": None, "dirty": False},
        schema_versions={"profile": "1"},
        defaults=thr,
        rollout=rollout,
    )


def rollout_policy(*shares: float, hold: float = 30.0, **gate: float) -> dict[str, Any]:
    """A rollout policy of steps of ``shares`` (%) held ``hold`` s; gate checks every 0.1 s.

    The default hold is long, so a test's rollout stays on a step until an operator acts.
    """
    return {
        "steps": [{"share": s, "hold_seconds": hold} for s in shares],
        "gate": {"min_sample": 5, **gate},
        "check_seconds": 0.1,
    }


def worker(agent_id: str, **extra: Any) -> dict[str, Any]:
    """A heartbeat body of an agent on the ``worker`` profile of :func:`worker_bundle`."""
    return agent(agent_id, tool("search", "search"), profile="worker", **extra)


def client_registration(agent_id: str) -> dict[str, Any]:
    """A ``RegistryClient`` registration of an agent on the ``worker`` profile."""
    return {
        "agent_id": agent_id,
        "name": "worker",
        "profile": "worker",
        "http_host": "127.0.0.1",
        "http_port": 9100,
        "tools": [{"function_name": "search", "capability": "search"}],
    }
