"""Benchmark (not a test): how fast a new active config version reaches N simulated agents.

Starts a private redis-server and two replica processes on loopback. N RegistryClients
(alternating which replica they prefer) converge on bundle A from a revision-1 replica;
then a revision-2 replica with bundle B starts. For every agent it measures the time from
the activation of B (the Redis time recorded in the activation history) to the moment the
agent applied B, and prints p50/p99/max against the heartbeat interval.

    .venv/bin/python loadtests/bench_propagation.py --agents 1000 --interval 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.bundle import write_bundle
from service.client import Backoff, ConfigUpdate, RegistryClient
from service.settings import Thresholds


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bundle(out: Path, greeting: str, interval: float) -> str:
    thr = Thresholds(
        heartbeat_interval=interval,
        degraded_after=interval * 3,
        expire_after=interval * 6,
        retention=60,
    )
    payload = {"profile": "worker", "thresholds": thr.to_dict(), "config": {"g": greeting}}
    bundle = write_bundle(
        out,
        profiles={"worker": payload},
        catalog={"capabilities": []},
        environment="bench",
        git={},
        schema_versions={},
        defaults=thr,
    )
    return bundle.version


def _serve(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    exe = Path(sys.executable).with_name("registry")
    full = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")} | env
    log = (workdir / f"registry-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/health/live", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"replica did not start; see {log.name}") from None
            time.sleep(0.05)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    redis_port = _port()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    redis = await asyncio.to_thread(
        subprocess.Popen,
        [binary, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.sleep(0.3)
        version_a = _bundle(workdir / "a", "hi", args.interval)
        version_b = _bundle(workdir / "b", "hello", args.interval)
        base = {
            "REGISTRY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "REGISTRY_CONFIG_REFRESH": str(args.refresh),
            "REGISTRY_LOG_LEVEL": "warning",
        }
        old, old_url = await asyncio.to_thread(
            _serve,
            workdir,
            base | {"REGISTRY_BUNDLE_DIR": str(workdir / "a"), "REGISTRY_DEPLOY_REVISION": "1"},
        )
        procs.append(old)
        applied: dict[str, float] = {}
        on_a: set[str] = set()
        all_a, all_b = asyncio.Event(), asyncio.Event()
        clients: list[RegistryClient] = []

        def recorder(agent_id: str) -> Any:
            def on_config(update: ConfigUpdate) -> None:
                if update.version == version_a:
                    on_a.add(agent_id)
                    if len(on_a) == args.agents:
                        all_a.set()
                if update.version == version_b:
                    applied.setdefault(agent_id, time.time())
                    if len(applied) == args.agents:
                        all_b.set()

            return on_config

        for i in range(args.agents):
            agent_id = f"bench-{i}"
            clients.append(
                RegistryClient(
                    [old_url],
                    {"agent_id": agent_id, "name": "worker", "profile": "worker", "tools": []},
                    interval=args.interval,
                    backoff=Backoff(base=0.1, cap=1.0),
                    on_config=recorder(agent_id),
                )
            )
        tasks = []
        for c in clients:
            tasks.append(asyncio.create_task(c.run()))
            await asyncio.sleep(args.interval / args.agents)  # spread the phases evenly
        await asyncio.wait_for(all_a.wait(), 60)
        print(f"{args.agents} agents on A; starting the revision-2 replica with B")
        # In a thread: blocking here would stall every client while the replica starts.
        new, new_url = await asyncio.to_thread(
            _serve,
            workdir,
            base | {"REGISTRY_BUNDLE_DIR": str(workdir / "b"), "REGISTRY_DEPLOY_REVISION": "2"},
        )
        procs.append(new)
        for i, c in enumerate(clients):
            if i % 2:  # half the fleet now prefers the new replica
                c.urls = [new_url, old_url]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_b.wait(), 10 * args.interval + 10)
        async with httpx.AsyncClient() as http:
            history = (await http.get(f"{old_url}/config/versions")).json()["history"]
        activated = next(h for h in history if h["version"] == version_b)
        at = datetime.fromisoformat(activated["at"].replace("Z", "+00:00")).timestamp()
        for c in clients:
            c.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        redis.terminate()
        redis.wait(10)
    lat = [t - at for t in applied.values()]
    missing = args.agents - len(lat)
    print(f"agents={args.agents} interval={args.interval}s refresh={args.refresh}s")
    print(f"reached {len(lat)}/{args.agents} agents" + (f" ({missing} MISSING)" if missing else ""))
    if lat:
        p50, p99, mx = _pct(lat, 50), _pct(lat, 99), max(lat)
        print(
            f"propagation after activation: p50={p50 * 1000:.0f} ms  p99={p99 * 1000:.0f} ms"
            f"  max={mx * 1000:.0f} ms  (max = {mx / args.interval:.2f} heartbeat intervals)"
        )
        return 0 if not missing and mx <= args.interval + args.refresh else 1
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0, help="heartbeat interval (s)")
    parser.add_argument("--refresh", type=float, default=0.2, help="REGISTRY_CONFIG_REFRESH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raise SystemExit(asyncio.run(_run(args, Path(tmp))))


if __name__ == "__main__":
    main()
