"""``make bench-peer``: the same HEAD and POST workload against MCP Mesh's registry and ours.

    python -m loadtests.peer [--agents 1000] [--duration 10]

The reference registry comes from npm (``@mcpmesh/cli-linux-x64``, fetched once with
``npm pack`` into ``~/.cache/agent-registry/peer``, outside git) and runs on loopback with a
throwaway SQLite file. Both registries get the same 1k agents through ``POST /heartbeat``,
then the same wrk workloads back to back, on the same cores.

The peer answers HEAD without ``Content-Length``, so keep-alive wrk would wait for a body
forever. HEAD is therefore measured with ``hey`` (HEAD-aware) on the same URL with both
registries kept alive, the headline ratio; wrk with ``Connection: close`` on both (a new TCP
connection per request) is the second line. POST runs two workloads: every agent providing
the same capabilities, and each agent its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loadtests.bench import RESULTS, default_cpus
from loadtests.bodies import LOOKUP_PROVIDERS, agent_body, lookup_provider_body
from loadtests.heyrun import ensure_hey, run_hey
from loadtests.procs import (
    Proc,
    free_port,
    pinned,
    spawn,
    start_redis,
    start_registry,
    stopping,
    wait_http,
)
from loadtests.seed import BENCH_ENV, write_bodies
from loadtests.wrkrun import ensure_wrk, run_wrk

PACKAGE = "@mcpmesh/cli-linux-x64"
CACHE = Path(os.environ.get("AGENT_REGISTRY_CACHE", Path.home() / ".cache" / "agent-registry"))


def fetch_peer(cache: Path = CACHE / "peer") -> Path:
    """The ``mcp-mesh-registry`` binary, fetched with ``npm pack`` on first use."""
    binary = cache / "mcp-mesh-registry"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing: install Node.js (Debian: apt-get install npm)")
    cache.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [npm, "pack", PACKAGE, "--pack-destination", str(cache)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    tgz = cache / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        member = tar.getmember("package/bin/mcp-mesh-registry")
        src = tar.extractfile(member)
        if src is None:
            raise SystemExit(f"{tgz} has no mcp-mesh-registry binary")
        binary.write_bytes(src.read())
    binary.chmod(0o755)
    tgz.unlink()
    return binary


def start_peer(workdir: Path, cpus: str | None) -> Proc:
    """The reference registry on loopback with a fresh SQLite file."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": str(workdir / "peer.db"),
        "MCP_MESH_LOG_LEVEL": "WARNING",
        # Like our bench thresholds: nobody expires while waiting for its turn in the rotation.
        "DEFAULT_TIMEOUT_THRESHOLD": "7200",
        "HEALTH_CHECK_INTERVAL": "3600",
    }
    log = workdir / f"peer-{port}.log"
    proc = spawn(pinned([str(fetch_peer())], cpus), log, env)
    wait_http(f"http://127.0.0.1:{port}/health", proc)
    return Proc(proc, port, log)


def register(port: int, bodies: list[dict[str, Any]], threads: int = 8) -> None:
    """POST every body; each must answer 200."""

    def post(chunk: list[dict[str, Any]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for body in chunk:
                conn.request(
                    "POST", "/heartbeat", json.dumps(body), {"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"registration answered {resp.status} on port {port}")
        finally:
            conn.close()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, [bodies[i::threads] for i in range(threads)]))


def main(argv: list[str] | None = None) -> int:
    """Run both registries through the same workloads; print and store our/theirs ratios."""
    server, client = default_cpus()
    p = argparse.ArgumentParser(prog="python -m loadtests.peer", description=__doc__)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--out", type=Path, default=RESULTS.with_name("peer.json"))
    args = p.parse_args(argv)
    out = run(args, server, client)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print_table(out)
    print(f"\nresults: {args.out}")
    return 0


#: POST workloads: every agent provides the same two capabilities, or two of its own.
POST_WORKLOADS = {"shared": 1, "own": 1_000_000}


def run(args: argparse.Namespace, server: str | None, client: str | None) -> dict[str, Any]:
    """Every workload on both registries, back to back on the same cores; the ratios."""
    ensure_wrk()
    ensure_hey()
    n = args.agents
    # Providers of the fleet's dependency first, so no later registration changes what a
    # consumer depends on and HEAD answers 200 in steady state.
    providers = [lookup_provider_body(i) for i in range(LOOKUP_PROVIDERS)]
    bodies = [agent_body(i) for i in range(n)]
    out: dict[str, Any] = {
        "agents": n,
        "duration_s": args.duration,
        "connections": args.connections,
        "server_cpus": server,
    }

    def wrk(proc: Proc, mode: list[str]) -> dict[str, Any]:
        res = run_wrk(
            proc.url,
            mode,
            duration=args.duration,
            connections=args.connections,
            cpus=client,
            server_pid=proc.proc.pid,
        )
        return res.as_dict()

    def hey(proc: Proc, path: str) -> dict[str, Any]:
        res = run_hey(
            proc.url + path,
            duration=args.duration,
            connections=args.connections,
            cpus=client,
            server_pid=proc.proc.pid,
        )
        return res.as_dict()

    with tempfile.TemporaryDirectory(prefix="registry-peer-") as tmp, stopping([]) as procs:
        work = Path(tmp)
        rds = start_redis(work, cpus=client)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"
        ours = start_registry(work, url, cpus=server, env=BENCH_ENV)
        procs.append(ours)
        theirs = start_peer(work, server)
        procs.append(theirs)
        both = {"ours": ours, "theirs": theirs}
        for proc in both.values():
            register(proc.port, providers, threads=1)
            register(proc.port, bodies)
        # HEAD: the same URL, both kept alive (hey); then wrk with Connection: close on both.
        for who, proc in both.items():
            out[f"{who}_head_keepalive"] = hey(proc, "/heartbeat/agent-0")
        head = ["head", "agent", str(n), "close"]
        for who, proc in both.items():
            out[f"{who}_head_close"] = wrk(proc, head)
        for name, families in POST_WORKLOADS.items():
            post = write_bodies(work / f"{name}.jsonl", n, tools=2, families=families)
            warm = [json.loads(line) for line in post.read_bytes().splitlines()]
            for who, proc in both.items():
                register(proc.port, warm)  # the workload's capabilities, before measuring
                out[f"{who}_post_{name}"] = wrk(proc, ["post", str(post)])
    out["ratios"] = {
        "head_keepalive_hey": _ratio(out["ours_head_keepalive"], out["theirs_head_keepalive"]),
        "head_keepalive_hey_cpu": _cpu_ratio(
            out["ours_head_keepalive"], out["theirs_head_keepalive"]
        ),
        "head_close_wrk": _ratio(out["ours_head_close"], out["theirs_head_close"]),
        **{
            f"post_{name}": _ratio(out[f"ours_post_{name}"], out[f"theirs_post_{name}"])
            for name in POST_WORKLOADS
        },
    }
    return out


def _cpu_ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> float:
    """Their server CPU per request over ours: the ratio once the load tool is not the limit."""
    a, b = ours["cpu_us_per_request"], theirs["cpu_us_per_request"]
    return round(b / a, 2) if a and b else 0.0


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    return round(a["rps"] / b["rps"], 2) if b["rps"] else 0.0


#: Goals of issue 17 for each ratio (ours / theirs, req/s); None: shown, no goal.
GOALS: dict[str, tuple[str, float | None]] = {
    "head_keepalive_hey": ("HEAD, same URL, both kept alive (hey)", 50.0),
    "head_keepalive_hey_cpu": ("the same, by server CPU per request (theirs / ours)", None),
    "head_close_wrk": ("HEAD, rotating agents, both Connection: close (wrk)", None),
    "post_shared": ("POST, every agent provides the same capabilities (wrk)", None),
    "post_own": ("POST, one capability per agent (wrk)", 10.0),
}


def print_table(out: dict[str, Any]) -> None:
    """Markdown: each workload on both registries, then the ratios against the goals."""
    print(
        f"{out['agents']:,} agents, {out['connections']} connections, "
        f"{out['duration_s']:g}s per row\n"
    )
    print("| workload | req/s | p50 ms | p99 ms | server CPU µs/req | errors | statuses |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, w in out.items():
        if not isinstance(w, dict) or "rps" not in w:
            continue
        status = " ".join(f"{k}:{v}" for k, v in w["status"].items())
        print(f"| {key} | {w['rps']:,.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | ", end="")
        print(f"{w['cpu_us_per_request'] or 0:.0f} | {w['errors']} | {status} |")
    # wrk counts every peer HEAD with Connection: close as a read error: with no
    # Content-Length, the answer ends only when the connection closes. Its status is counted.
    print("\n| ours / theirs | ratio | goal | met |\n|---|---:|---|---|")
    for name, value in out["ratios"].items():
        label, goal = GOALS[name]
        met = "" if goal is None else ("yes" if value >= goal else "**NO**")
        print(f"| {label} | {value:g}x | {'-' if goal is None else f'>= {goal:g}x'} | {met} |")


if __name__ == "__main__":
    sys.exit(main())
