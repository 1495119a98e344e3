"""Benchmark: HEAD /heartbeat with token auth against HEAD with auth off, in one run.

Two replicas share one Redis under different key prefixes: one with ``REGISTRY_AUTH=off``,
one with ``REGISTRY_AUTH=token`` (its agents registered with a token, so every HEAD carries
``Authorization: Bearer`` and is checked for its scope and its owner). wrk alternates
between them (off, token, off, token) and the figures are the medians; the goal is token at
least 0.9x off, by throughput and by server CPU per request, and still one EVALSHA per HEAD.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
from pathlib import Path

import redis

from loadtests.procs import start_redis, start_registry, stopping
from loadtests.seed import measure_calls, sequential_heads
from loadtests.wrkrun import ensure_wrk, run_wrk
from service.domain.identity import token_digest

TOKEN = "bench-token-0123456789abcdef"
TOKENS = json.dumps([{"subject": "bench", "sha256": token_digest(TOKEN), "scopes": ["agent"]}])


def register(port: int, agents: int, token: str | None) -> None:
    """Register ``bench-0`` .. ``bench-{agents-1}`` over one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        for i in range(agents):
            body = {"agent_id": f"bench-{i}", "http_host": "127.0.0.1", "http_port": 9000}
            conn.request("POST", "/heartbeat", body=json.dumps(body), headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"registration answered {resp.status}")
    finally:
        conn.close()


def run(args: argparse.Namespace) -> dict[str, object]:
    """Measure both replicas; return the figures and the ratios."""
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="registry-bench-auth-") as tmp, stopping([]) as procs:
        work = Path(tmp)
        rds = start_redis(work, cpus=args.client_cpus)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"
        quiet = {
            "REGISTRY_SWEEP_INTERVAL": "3600",
            "REGISTRY_EXPIRE_AFTER": "3600",
            "REGISTRY_DEGRADED_AFTER": "1800",
            "REGISTRY_RETENTION": "60",
        }
        off = start_registry(
            work,
            url,
            cpus=args.server_cpus,
            env={**quiet, "REGISTRY_KEY_PREFIX": "off", "REGISTRY_AUTH": "off"},
        )
        procs.append(off)
        tok = start_registry(
            work,
            url,
            cpus=args.server_cpus,
            env={
                **quiet,
                "REGISTRY_KEY_PREFIX": "tok",
                "REGISTRY_AUTH": "token",
                "REGISTRY_TOKENS": TOKENS,
            },
        )
        procs.append(tok)
        register(off.port, args.agents, None)
        register(tok.port, args.agents, TOKEN)
        runs: dict[str, list[dict[str, float]]] = {"off": [], "token": []}
        for _ in range(args.rounds):
            for name, proc, extra in (("off", off, []), ("token", tok, [f"bearer={TOKEN}"])):
                result = run_wrk(
                    proc.url,
                    ["head", "bench", str(args.agents), *extra],
                    duration=args.duration,
                    connections=args.connections,
                    cpus=args.client_cpus,
                    server_pid=proc.proc.pid,
                )
                if set(result.status) != {"200"}:
                    raise RuntimeError(f"{name}: unexpected statuses {result.status}")
                runs[name].append({"rps": result.rps, "cpu_us": result.cpu_us or 0.0})
        r = redis.Redis(port=rds.port)
        try:
            calls = measure_calls(
                r, lambda: sequential_heads(tok.port, args.agents, args.count, TOKEN)
            )
        finally:
            r.close()
    med = {
        name: {k: statistics.median(x[k] for x in rows) for k in ("rps", "cpu_us")}
        for name, rows in runs.items()
    }
    return {
        "agents": args.agents,
        "rounds": args.rounds,
        "off": med["off"],
        "token": med["token"],
        "ratio_rps": round(med["token"]["rps"] / med["off"]["rps"], 3),
        "ratio_cpu": round(med["off"]["cpu_us"] / med["token"]["cpu_us"], 3)
        if med["token"]["cpu_us"]
        else None,
        "token_head_calls": calls,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m loadtests.bench_auth``: print the figures and the ratios to the goal."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="off/token alternations")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--count", type=int, default=500, help="HEADs for the round-trip count")
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    args = p.parse_args(argv)
    out = run(args)
    print(json.dumps(out, indent=2))
    ratio = out["ratio_rps"]
    ok = isinstance(ratio, float) and ratio >= 0.9
    print(
        f"HEAD token/off: {out['ratio_rps']}x req/s, {out['ratio_cpu']}x by CPU per request"
        f" (goal >= 0.9x: {'met' if ok else 'NOT met'});"
        f" EVALSHA per token HEAD: {out['token_head_calls']['evalsha_per_request']}"  # type: ignore[index]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
