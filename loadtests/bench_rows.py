"""Measurements of ``make bench`` beyond wrk runs: memory by key type, idle long-polls,
round trips of ``GET /capabilities``, sweep work against the number of replicas.

Each returns a JSON-ready dict; :mod:`loadtests.report` puts them next to their goals.
"""

from __future__ import annotations

import re
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis

from loadtests.procs import Proc, start_registry
from loadtests.seed import commandstats, measure_calls

#: ``prefix:{namespace}:kind:...`` -> ``kind``; keys outside a namespace -> their first part.
_KIND = re.compile(r"^[^:{]*:(?:\{[^}]*\}:)?([^:]*)")


def key_kind(key: str) -> str:
    """The key type a key belongs to, from the key layout (``service/store/keys.py``)."""
    m = _KIND.match(key)
    return m.group(1) if m else key


def memory_breakdown(r: redis.Redis, agents: int, sample: int = 500) -> dict[str, Any]:
    """Keys and estimated bytes per key type (``MEMORY USAGE`` of a sample), per agent.

    SCAN runs here, in the harness, never on a request path.
    """
    keys_by_kind: dict[str, list[bytes]] = {}
    counts: Counter[str] = Counter()
    for key in r.scan_iter(count=2000):
        kind = key_kind(key.decode(errors="replace"))
        counts[kind] += 1
        bucket = keys_by_kind.setdefault(kind, [])
        if len(bucket) < sample:
            bucket.append(key)
    out: dict[str, Any] = {}
    for kind, n in counts.most_common():
        sizes = [r.memory_usage(k, samples=0) or 0 for k in keys_by_kind[kind]]
        avg = sum(sizes) / len(sizes) if sizes else 0.0
        encodings = Counter(
            (r.object("encoding", k) or b"?").decode() for k in keys_by_kind[kind][:50]
        )
        out[kind] = {
            "keys": n,
            "bytes_per_key": round(avg, 1),
            "bytes_per_agent": round(avg * n / max(agents, 1), 1),
            "encodings": dict(encodings),
        }
    return out


def idle_longpoll(
    r: redis.Redis, url: str, etag: str, *, waiters: int = 16, wait_s: float = 3.0
) -> dict[str, Any]:
    """Redis commands per second while ``waiters`` long-polls wait and nothing changes."""

    def poll(_: int) -> int:
        req = urllib.request.Request(
            f"{url}{'&' if '?' in url else '?'}index={etag}&wait={wait_s:g}s"
        )
        with urllib.request.urlopen(req, timeout=wait_s + 30) as resp:
            resp.read()
            return int(resp.status)

    before = commandstats(r)
    started = time.monotonic()
    with ThreadPoolExecutor(waiters) as pool:
        statuses = list(pool.map(poll, range(waiters)))
    seconds = time.monotonic() - started
    after = commandstats(r)
    delta = sum(v - before.get(k, 0) for k, v in after.items() if k != "info")
    return {
        "waiters": waiters,
        "wait_s": wait_s,
        "seconds": round(seconds, 3),
        "statuses": dict(Counter(str(s) for s in statuses)),
        "redis_commands": delta,
        "commands_per_second_per_waiter": round(delta / seconds / waiters, 2),
    }


def get_calls(r: redis.Redis, port: int, path: str, count: int) -> dict[str, Any]:
    """Redis commands per ``GET path`` over ``count`` sequential requests."""

    def action() -> int:
        for _ in range(count):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                resp.read()
        return count

    return measure_calls(r, action)


def sweep_work(
    r: redis.Redis, work: Path, redis_url: str, env: dict[str, str], *, cpus: str | None
) -> dict[str, Any]:
    """Sweep passes per second (``ZRANGEBYSCORE`` runs only in sweep.lua) with one replica
    sweeping every 0.2 s, then with three."""
    env = {**env, "REGISTRY_SWEEP_INTERVAL": "0.2"}
    replicas: list[Proc] = []

    def rate(seconds: float = 3.0) -> float:
        time.sleep(1.0)  # a new replica's first bid and pass
        before = commandstats(r).get("zrangebyscore", 0)
        time.sleep(seconds)
        return (commandstats(r).get("zrangebyscore", 0) - before) / seconds

    try:
        replicas.append(start_registry(work, redis_url, cpus=cpus, env=env))
        one = rate()
        for _ in range(2):
            replicas.append(start_registry(work, redis_url, cpus=cpus, env=env))
        three = rate()
    finally:
        for p in replicas:
            p.stop()
    return {
        "interval_s": 0.2,
        "passes_per_s_1_replica": round(one, 2),
        "passes_per_s_3_replicas": round(three, 2),
        "ratio_3_vs_1": round(three / one, 3) if one else 0.0,
    }
