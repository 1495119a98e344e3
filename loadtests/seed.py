"""Register large fleets fast, straight through the store, and read Redis' own counters.

Seeding goes through :meth:`service.store.store.Store.heartbeat`, the same Lua script a
``POST /heartbeat`` runs, so the stored records are exactly what replicas would write; only
HTTP is skipped. Calls run concurrently in batches over a pooled client.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import time
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import redis

from loadtests.bodies import FAMILIES, agent_body
from service.bundle import write_bundle
from service.models import HeartbeatRequest
from service.settings import Thresholds
from service.store.gate import Gate
from service.store.keys import Keys
from service.store.store import Store

#: Long thresholds for seeded fleets: nobody heartbeats 100k agents during a bench, and an
#: agent must neither degrade nor expire while it waits for its turn in the HEAD rotation.
BENCH_THRESHOLDS = Thresholds(
    heartbeat_interval=30.0, degraded_after=3600.0, expire_after=7200.0, retention=60.0
)
#: The same thresholds as replica settings, so POSTs from wrk keep them.
BENCH_ENV = {
    "REGISTRY_HEARTBEAT_INTERVAL": "30",
    "REGISTRY_DEGRADED_AFTER": "3600",
    "REGISTRY_EXPIRE_AFTER": "7200",
    "REGISTRY_RETENTION": "60",
}
_decoder = msgspec.json.Decoder(HeartbeatRequest)


async def _seed(
    redis_url: str, bodies: Iterable[dict[str, Any]], batch: int, key_prefix: str
) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, max_connections=batch)
    # A whole batch in flight at once, and generous deadlines: the replicas' admission gate
    # (64 in flight, 64 queued, 1 s) would shed a seeding burst that is meant to be a burst.
    store = Store(client, Keys(key_prefix), gate=Gate(size=batch, queue=batch, timeout=30.0))
    done = 0

    async def one(body: dict[str, Any]) -> None:
        req = _decoder.decode(msgspec.json.encode(body))
        await store.heartbeat(
            req,
            thresholds=BENCH_THRESHOLDS,
            profile=req.name or req.agent_id,
            epoch="",
            now_ms=0,
        )

    try:
        chunk: list[dict[str, Any]] = []
        for body in bodies:
            chunk.append(body)
            if len(chunk) == batch:
                await asyncio.gather(*(one(b) for b in chunk))
                done += len(chunk)
                chunk = []
        await asyncio.gather(*(one(b) for b in chunk))
        done += len(chunk)
    finally:
        await store.close()
    return done


def seed(
    redis_url: str,
    bodies: Iterable[dict[str, Any]],
    *,
    batch: int = 200,
    key_prefix: str = "reg",
) -> int:
    """Register every body (each one EVALSHA plus the first-registration bookkeeping)."""
    return asyncio.run(_seed(redis_url, bodies, batch, key_prefix))


def fleet(start: int, stop: int, *, tools: int = 2) -> Iterable[dict[str, Any]]:
    """Bodies of agents ``start`` .. ``stop - 1`` (see :func:`loadtests.bodies.agent_body`)."""
    return (agent_body(i, tools=tools) for i in range(start, stop))


def write_bodies(path: Path, count: int, *, tools: int = 3, families: int = FAMILIES) -> Path:
    """One compact JSON body per line for wrk's POST rotation (agents 0 .. count - 1)."""
    enc = msgspec.json.Encoder()
    with path.open("wb") as out:
        for body in (agent_body(i, tools=tools, families=families) for i in range(count)):
            out.write(enc.encode(body) + b"\n")
    return path


def commandstats(r: redis.Redis) -> dict[str, int]:
    """Calls per command since the server started (``INFO commandstats``)."""
    info: dict[str, Any] = r.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}


def used_memory(r: redis.Redis) -> int:
    """``used_memory`` in bytes."""
    info: dict[str, Any] = r.info("memory")
    return int(info["used_memory"])


def script_commands() -> set[str]:
    """Every command name a store Lua script runs (``redis.call('NAME', ...)``)."""
    names: set[str] = set()
    for f in resources.files("service.store").joinpath("lua").iterdir():
        if f.name.endswith(".lua"):
            text = f.read_text("utf-8")
            names |= {m.lower() for m in re.findall(r"redis\.call\('(\w+)'", text)}
    return names


def _settled(r: redis.Redis, timeout: float = 10.0) -> dict[str, int]:
    """Counters once a previous load's backlog has drained (nothing but INFO moves)."""
    deadline = time.monotonic() + timeout
    last = commandstats(r)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = commandstats(r)
        if {k: v for k, v in now.items() if k != "info"} == {
            k: v for k, v in last.items() if k != "info"
        }:
            return now
        last = now
    return last


def measure_calls(r: redis.Redis, action: Callable[[], int]) -> dict[str, Any]:
    """Commands per request while ``action`` runs; ``action`` returns its request count.

    ``INFO commandstats`` also counts commands run inside scripts, so the split is: client
    commands are ``evalsha``/``eval`` plus any command no store script runs; the rest is
    what the scripts did inside their one round trip.
    """
    before = _settled(r)
    requests = action()
    after = commandstats(r)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    delta["info"] = delta.get("info", 0) - 1  # the INFO that took the first snapshot
    delta = {k: v for k, v in delta.items() if v}
    inside = script_commands()
    n = max(requests, 1)
    client_side = {k: v for k, v in delta.items() if k in ("evalsha", "eval") or k not in inside}
    return {
        "requests": requests,
        "evalsha_per_request": round(delta.get("evalsha", 0) / n, 4),
        "round_trips_per_request": round(sum(client_side.values()) / n, 4),
        "non_script_commands": {k: v for k, v in client_side.items() if k != "evalsha"},
        "inside_scripts_per_request": {
            k: round(v / n, 3) for k, v in sorted(delta.items()) if k not in client_side
        },
    }


def sequential_heads(port: int, agents: int, count: int, token: str | None = None) -> int:
    """``count`` sequential HEADs over one connection, cycling over ``bench-0`` ..
    ``bench-{agents-1}`` (for a Redis round-trip count); every answer must be 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        for i in range(count):
            conn.request("HEAD", f"/heartbeat/bench-{i % agents}", headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HEAD answered {resp.status}")
    finally:
        conn.close()
    return count


def one_profile_bundle(
    out: Path,
    profile: str,
    config: dict[str, Any],
    thresholds: Thresholds,
    rollout: dict[str, Any] | None = None,
) -> str:
    """Write a bench bundle with one profile (its config and thresholds, no capabilities) to
    ``out``; its version. ``rollout`` is the bundle's rollout policy, or none."""
    payload = {"profile": profile, "thresholds": thresholds.to_dict(), "config": config}
    return write_bundle(
        out,
        profiles={profile: payload},
        catalog={"capabilities": []},
        environment="bench",
        git={},
        schema_versions={},
        defaults=thresholds,
        rollout=rollout,
    ).version
