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
    """Redis commands per second while ``waiters`` long-polls wait and nothing changes:
    counted over the middle of the wait, so each request's own first and last reads (its
    index check, and the answer at the deadline) are left out."""

    def poll(_: int) -> int:
        sep = "&" if "?" in url else "?"
        req = urllib.request.Request(f"{url}{sep}index={etag}&wait={wait_s:g}s")
        with urllib.request.urlopen(req, timeout=wait_s + 30) as resp:
            resp.read()
            return int(resp.status)

    margin = wait_s / 4
    with ThreadPoolExecutor(waiters) as pool:
        running = [pool.submit(poll, i) for i in range(waiters)]
        time.sleep(margin)
        before, t0 = commandstats(r), time.monotonic()
        time.sleep(wait_s - 2 * margin)
        after, seconds = commandstats(r), time.monotonic() - t0
        statuses = [f.result() for f in running]
    delta = sum(v - before.get(k, 0) for k, v in after.items() if k != "info") - 1
    return {
        "waiters": waiters,
        "wait_s": wait_s,
        "window_s": round(seconds, 3),
        "statuses": dict(Counter(str(s) for s in statuses)),
        "redis_commands": delta,
        "commands_per_second": round(delta / seconds, 2),
    }


def get_calls(r: redis.Redis, port: int, path: str, count: int) -> dict[str, Any]:
    """Redis commands per ``GET path`` over ``count`` sequential requests, after one that
    is not counted: a replica loads each script on its first use (NOSCRIPT, SCRIPT LOAD)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        resp.read()

    def action() -> int:
        for _ in range(count):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                resp.read()
        return count

    return measure_calls(r, action)


def sweep_work(
    r: redis.Redis, work: Path, redis_url: str, env: dict[str, str], *, cpus: str | None
) -> dict[str, Any]:
    """Sweep passes per second (``ZRANGEBYSCORE``: sweep.lua, and read_index.lua, which
    nothing calls meanwhile) with one replica
    sweeping every 0.2 s, then with three."""
    env = {**env, "REGISTRY_SWEEP_INTERVAL": "0.2"}
    replicas: list[Proc] = []

    def rate(seconds: float = 4.0) -> float:
        # Until passes run (a lease left by an earlier replica lapses within 3 intervals).
        deadline = time.monotonic() + 10
        first = commandstats(r).get("zrangebyscore", 0)
        while commandstats(r).get("zrangebyscore", 0) == first and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the newest replicas' first bids
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


def longpoll_wake(
    base: str, path: str, bodies: list[bytes], *, wait_s: float = 10.0
) -> dict[str, Any]:
    """Milliseconds from a change's POST answer to the answer of a long-poll waiting on it:
    one waiter per body, each woken by registering that body (a new provider of ``path``)."""
    samples = []
    for body in bodies:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            etag = resp.headers["ETag"]

        def waiter(etag: str = etag) -> float:
            url = f"{base}{path}?index={etag}&wait={wait_s:g}s"
            with urllib.request.urlopen(url, timeout=wait_s + 10) as resp:
                resp.read()
            return time.monotonic()

        with ThreadPoolExecutor(1) as pool:
            woke = pool.submit(waiter)
            time.sleep(0.3)  # the waiter is blocked on the replica's listener by now
            req = urllib.request.Request(
                base + "/heartbeat", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
            changed = time.monotonic()
            samples.append((woke.result() - changed) * 1000)
    ordered = sorted(samples)
    return {
        "samples_ms": [round(s, 1) for s in samples],
        "median_ms": round(ordered[len(ordered) // 2], 1),
        "max_ms": round(ordered[-1], 1),
    }
